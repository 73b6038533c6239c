//! Hand-written HTTP/1 and HTTP/2 bytes on raw sockets, for what a normal
//! client never does (stay silent, stop after the preface, hold a stream) and
//! to see frames a client library hides (GOAWAY).

use std::time::{Duration, Instant};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

pub(crate) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// An empty SETTINGS frame.
pub(crate) const SETTINGS: &[u8] = &[0, 0, 0, 4, 0, 0, 0, 0, 0];

const DATA: u8 = 0;
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS_KIND: u8 = 4;
const PING: u8 = 6;
pub(crate) const GOAWAY: u8 = 7;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const ACK: u8 = 0x1;

/// Reads (and discards) until the server closes the socket; `None` when it is
/// still open after `limit`.
pub(crate) async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(limit, async {
        while let Ok(1..) = stream.read(&mut buf).await {}
    })
    .await
    .ok()?;
    Some(started.elapsed())
}

/// Sends `GET /api/v1/openapi.json` over HTTP/1.1 and reads the status line;
/// false when the server closed the connection instead.
pub(crate) async fn http1_ok(stream: &mut TcpStream) -> bool {
    let request = b"GET /api/v1/openapi.json HTTP/1.1\r\nHost: localhost\r\n\r\n";
    if stream.write_all(request).await.is_err() {
        return false;
    }
    let mut head = Vec::new();
    let mut buf = [0u8; 512];
    while head.len() < 12 {
        match tokio::time::timeout(Duration::from_secs(20), stream.read(&mut buf)).await {
            Ok(Ok(read @ 1..)) => head.extend_from_slice(&buf[..read]),
            _ => return false,
        }
    }
    head.starts_with(b"HTTP/1.1 200")
}

/// One HTTP/2 frame as received.
#[derive(Debug)]
pub(crate) struct Frame {
    pub(crate) kind: u8,
    pub(crate) flags: u8,
    pub(crate) stream: u32,
    pub(crate) payload: Vec<u8>,
}

/// An HTTP/2 client speaking frames by hand (prior knowledge, no TLS); it
/// acknowledges SETTINGS and PINGs so the server sees a live peer.
pub(crate) struct RawH2 {
    stream: TcpStream,
}

impl RawH2 {
    pub(crate) async fn connect(addr: impl tokio::net::ToSocketAddrs) -> Self {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(PREFACE).await.unwrap();
        stream.write_all(SETTINGS).await.unwrap();
        Self { stream }
    }

    async fn send(&mut self, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
        let length = u32::try_from(payload.len()).unwrap().to_be_bytes();
        let mut frame = vec![length[1], length[2], length[3], kind, flags];
        frame.extend_from_slice(&stream.to_be_bytes());
        frame.extend_from_slice(payload);
        self.stream.write_all(&frame).await.unwrap();
    }

    /// A GET with no body on `stream` (a small answer, so flow control never
    /// holds its body back).
    pub(crate) async fn get(&mut self, stream: u32, path: &str) {
        let mut block = vec![0x82, 0x86]; // :method GET, :scheme http
        literal(&mut block, 4, path); // :path
        literal(&mut block, 1, "localhost"); // :authority
        self.send(HEADERS, END_HEADERS | END_STREAM, stream, &block)
            .await;
    }

    /// A gRPC call with `message` (protobuf bytes) as its only request.
    pub(crate) async fn grpc(&mut self, stream: u32, path: &str, token: &str, message: &[u8]) {
        let mut block = vec![0x83, 0x86]; // :method POST, :scheme http
        literal(&mut block, 4, path);
        literal(&mut block, 1, "localhost");
        literal(&mut block, 31, "application/grpc"); // content-type
        literal(&mut block, 23, &format!("Bearer {token}")); // authorization
        block.extend_from_slice(&[0x00, 2]); // te, a name outside the static table
        block.extend_from_slice(b"te");
        block.push(8);
        block.extend_from_slice(b"trailers");
        self.send(HEADERS, END_HEADERS, stream, &block).await;
        let mut body = vec![0];
        body.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
        body.extend_from_slice(message);
        self.send(DATA, END_STREAM, stream, &body).await;
    }

    /// Cancels `stream` (RST_STREAM with CANCEL).
    pub(crate) async fn cancel(&mut self, stream: u32) {
        self.send(RST_STREAM, 0, stream, &8u32.to_be_bytes()).await;
    }

    /// The next frame other than SETTINGS and PING (answered here); `None`
    /// once the server has closed the connection.
    pub(crate) async fn next_frame(&mut self) -> Option<Frame> {
        loop {
            let mut head = [0u8; 9];
            self.stream.read_exact(&mut head).await.ok()?;
            let length = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
            let mut payload = vec![0u8; length];
            self.stream.read_exact(&mut payload).await.ok()?;
            let frame = Frame {
                kind: head[3],
                flags: head[4],
                stream: u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff,
                payload,
            };
            match (frame.kind, frame.flags & ACK) {
                (SETTINGS_KIND, 0) => self.send(SETTINGS_KIND, ACK, 0, &[]).await,
                (PING, 0) => self.send(PING, ACK, 0, &frame.payload).await,
                (SETTINGS_KIND | PING, _) => {}
                _ => return Some(frame),
            }
        }
    }

    /// Reads frames until `stream` ends (END_STREAM or RST_STREAM).
    pub(crate) async fn finish(&mut self, stream: u32) {
        while let Some(frame) = self.next_frame().await {
            let ended = frame.flags & END_STREAM != 0 && matches!(frame.kind, DATA | HEADERS);
            if frame.stream == stream && (ended || frame.kind == RST_STREAM) {
                return;
            }
        }
        panic!("connection closed before stream {stream} ended");
    }

    /// Waits up to `limit` for a GOAWAY; answers its error code and when it
    /// came. Any frame that ends `watched` before it is a failure.
    pub(crate) async fn goaway_within(
        &mut self,
        limit: Duration,
        watched: Option<u32>,
    ) -> Option<(u32, Duration)> {
        let started = Instant::now();
        let wait = async {
            while let Some(frame) = self.next_frame().await {
                if frame.kind == GOAWAY {
                    let code = u32::from_be_bytes(frame.payload[4..8].try_into().unwrap());
                    return Some((code, started.elapsed()));
                }
                let ends = frame.flags & END_STREAM != 0 || frame.kind == RST_STREAM;
                assert!(
                    !(ends && Some(frame.stream) == watched),
                    "stream ended: {frame:?}"
                );
            }
            panic!("connection closed without GOAWAY");
        };
        tokio::time::timeout(limit, wait).await.ok().flatten()
    }
}

/// An HPACK literal header field without indexing, its name from the static
/// table, its value short and not Huffman-coded.
fn literal(block: &mut Vec<u8>, name_index: u8, value: &str) {
    if name_index < 15 {
        block.push(name_index);
    } else {
        block.extend_from_slice(&[0x0f, name_index - 15]);
    }
    block.push(u8::try_from(value.len()).unwrap());
    block.extend_from_slice(value.as_bytes());
}
