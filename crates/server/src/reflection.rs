//! gRPC reflection in two views: the public services to anyone, the internal
//! one too only to callers presenting the service credential.

use std::task::{Context, Poll};

use anyhow::Context as _;
use prost::Message;
use sessions_grpc::ServiceCredential;
use sessions_proto::FILE_DESCRIPTOR_SET;
use tonic::server::NamedService;
use tower::Service;

/// The file declaring `InternalSessionsService`: hidden from the public view.
const INTERNAL_FILE: &str = "sessions/v1/internal.proto";

/// A descriptor set with its files kept as encoded bytes: decoding a file into
/// `prost_types` drops the options it does not know (`google.api.http`), and
/// the kept files are served exactly as compiled.
#[derive(Clone, PartialEq, Message)]
struct EncodedFileSet {
    #[prost(bytes = "vec", repeated, tag = "1")]
    file: Vec<Vec<u8>>,
}

/// `FILE_DESCRIPTOR_SET` without the internal file: its service and its
/// messages (users, permissions, audit) are nobody else's business. No public
/// file may import it, or reflection clients could not resolve the public view.
fn public_descriptor_set() -> anyhow::Result<Vec<u8>> {
    let set = EncodedFileSet::decode(FILE_DESCRIPTOR_SET).context("descriptor set")?;
    let mut kept = Vec::with_capacity(set.file.len());
    for encoded in set.file {
        let file = prost_types::FileDescriptorProto::decode(encoded.as_slice())
            .context("file descriptor")?;
        if file.name() == INTERNAL_FILE {
            continue;
        }
        anyhow::ensure!(
            !file.dependency.iter().any(|d| d == INTERNAL_FILE),
            "{} imports {INTERNAL_FILE}, which public reflection hides",
            file.name()
        );
        kept.push(encoded);
    }
    Ok(EncodedFileSet { file: kept }.encode_to_vec())
}

/// Adds the v1 and v1alpha reflection services, each answering the full view
/// to callers presenting the service credential and the public view to the rest.
pub(crate) fn add_services(
    routes: tonic::service::Routes,
    credential: &ServiceCredential,
    message_limit: usize,
) -> anyhow::Result<tonic::service::Routes> {
    let public_set = public_descriptor_set()?;
    let configure = |full: bool| {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(if full {
                FILE_DESCRIPTOR_SET
            } else {
                public_set.as_slice()
            })
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let v1 = ByCredential {
        public: configure(false)
            .build_v1()
            .context("reflection service")?
            .max_decoding_message_size(message_limit),
        full: configure(true)
            .build_v1()
            .context("reflection service")?
            .max_decoding_message_size(message_limit),
        credential: credential.clone(),
    };
    let v1alpha = ByCredential {
        public: configure(false)
            .build_v1alpha()
            .context("reflection service")?
            .max_decoding_message_size(message_limit),
        full: configure(true)
            .build_v1alpha()
            .context("reflection service")?
            .max_decoding_message_size(message_limit),
        credential: credential.clone(),
    };
    Ok(routes.add_service(v1).add_service(v1alpha))
}

/// Sends each request to `full` when it presents the service credential,
/// else to `public`; both serve the same gRPC service name.
#[derive(Clone)]
pub(crate) struct ByCredential<S> {
    public: S,
    full: S,
    credential: ServiceCredential,
}

impl<S: NamedService> NamedService for ByCredential<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> Service<http::Request<B>> for ByCredential<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    // Both must be ready: which one a request goes to is known only in `call`.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        match (self.public.poll_ready(cx)?, self.full.poll_ready(cx)?) {
            (Poll::Ready(()), Poll::Ready(())) => Poll::Ready(Ok(())),
            _ => Poll::Pending,
        }
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let authorization = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if self.credential.verifies(authorization) {
            self.full.call(request)
        } else {
            self.public.call(request)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_view_drops_only_the_internal_file() {
        let all = EncodedFileSet::decode(FILE_DESCRIPTOR_SET).unwrap();
        let public = EncodedFileSet::decode(public_descriptor_set().unwrap().as_slice()).unwrap();
        assert_eq!(public.file.len() + 1, all.file.len());
        let names: Vec<String> = public
            .file
            .iter()
            .map(|f| {
                prost_types::FileDescriptorProto::decode(f.as_slice())
                    .unwrap()
                    .name()
                    .to_owned()
            })
            .collect();
        assert!(names.iter().any(|n| n == "sessions/v1/sessions.proto"));
        assert!(!names.iter().any(|n| n == INTERNAL_FILE));
        // The kept files are the compiled bytes, options and all.
        assert!(public.file.iter().all(|f| all.file.contains(f)));
    }
}
