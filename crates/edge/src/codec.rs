//! A tonic codec for `DynamicMessage` requests whose answers decode straight to
//! JSON, so the edge can call any RPC in-process knowing only its descriptors.

use bytes::Buf;
use prost::Message;
use prost_reflect::{DynamicMessage, MessageDescriptor, SerializeOptions};
use tonic::{
    Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
};

pub(crate) struct DynamicCodec {
    output: MessageDescriptor,
}

impl DynamicCodec {
    pub(crate) fn new(output: MessageDescriptor) -> Self {
        Self { output }
    }
}

impl Codec for DynamicCodec {
    type Encode = DynamicMessage;
    /// The answer as the JSON body the spec shows.
    type Decode = Vec<u8>;
    type Encoder = DynamicEncoder;
    type Decoder = DynamicDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        DynamicEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        DynamicDecoder(self.output.clone())
    }
}

pub(crate) struct DynamicEncoder;

impl Encoder for DynamicEncoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("encoding request: {e}")))
    }
}

pub(crate) struct DynamicDecoder(MessageDescriptor);

impl Decoder for DynamicDecoder {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Self::Error> {
        let encoded = src.copy_to_bytes(src.remaining());
        answer_json(&self.0, &encoded).map(Some)
    }
}

/// The JSON of an encoded answer: by its prost type's serde rendering where
/// there is one (reflection cost a few hundred microseconds per listing of 100
/// sessions), else by reflection. Both write the same bytes (tested below).
pub(crate) fn answer_json(
    descriptor: &MessageDescriptor,
    encoded: &[u8],
) -> Result<Vec<u8>, Status> {
    match sessions_proto::render_json(descriptor.full_name(), encoded) {
        Some(rendered) => {
            rendered.map_err(|e| Status::internal(format!("rendering response: {e}")))
        }
        None => {
            let message = DynamicMessage::decode(descriptor.clone(), encoded)
                .map_err(|e| Status::internal(format!("decoding response: {e}")))?;
            json_bytes(&message).map_err(|e| Status::internal(format!("serializing response: {e}")))
        }
    }
}

/// How answers are written: every field without presence, even at its default,
/// as Rocket.Chat clients expect (the OpenAPI document relies on it).
pub(crate) fn json_options() -> SerializeOptions {
    SerializeOptions::new().skip_default_fields(false)
}

/// A response message as the JSON the spec shows.
fn json_bytes(message: &prost_reflect::DynamicMessage) -> Result<Vec<u8>, serde_json::Error> {
    let mut body = Vec::with_capacity(512);
    message.serialize_with_options(&mut serde_json::Serializer::new(&mut body), &json_options())?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use prost_reflect::{DescriptorPool, Kind, Value};

    use super::*;

    /// `message` with every field set, messages filled recursively, lists of two.
    fn filled(descriptor: &MessageDescriptor, depth: usize) -> DynamicMessage {
        let mut message = DynamicMessage::new(descriptor.clone());
        for field in descriptor.fields() {
            let one = |n: i32| match field.kind() {
                // Quotes, a control character and non-ASCII: escaping must agree.
                Kind::String => Some(Value::String(format!("v{n} \"q\" \u{1} é"))),
                Kind::Bool => Some(Value::Bool(true)),
                Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Some(Value::I32(-n)),
                Kind::Uint32 | Kind::Fixed32 => Some(Value::U32(n as u32)),
                Kind::Message(inner) if depth < 4 => {
                    Some(Value::Message(filled(&inner, depth + 1)))
                }
                _ => None,
            };
            let value = if field.is_list() {
                one(1).zip(one(2)).map(|(a, b)| Value::List(vec![a, b]))
            } else {
                one(3)
            };
            if let Some(value) = value {
                message.set_field(&field, value);
            }
        }
        message
    }

    fn reflected(message: &DynamicMessage) -> Vec<u8> {
        json_bytes(message).unwrap()
    }

    #[test]
    fn typed_rendering_writes_the_bytes_reflection_writes() {
        let pool = DescriptorPool::decode(sessions_proto::FILE_DESCRIPTOR_SET).unwrap();
        let mut compared = 0;
        for descriptor in pool.all_messages() {
            for message in [
                DynamicMessage::new(descriptor.clone()),
                filled(&descriptor, 0),
            ] {
                let encoded = message.encode_to_vec();
                let Some(typed) = sessions_proto::render_json(descriptor.full_name(), &encoded)
                else {
                    continue;
                };
                assert_eq!(
                    String::from_utf8(typed.unwrap()).unwrap(),
                    String::from_utf8(reflected(&message)).unwrap(),
                    "{}",
                    descriptor.full_name()
                );
                compared += 1;
            }
        }
        // Every answer of the REST edge is among them.
        for answer in [
            "Session",
            "AdminSession",
            "ListSessionsResponse",
            "LogoutSessionResponse",
            "LoginResponse",
            "LogoutResponse",
        ] {
            assert!(sessions_proto::render_json(&format!("sessions.v1.{answer}"), &[]).is_some());
        }
        assert!(compared >= 30, "{compared}");
    }

    #[test]
    fn other_messages_fall_back_to_reflection() {
        let pool = DescriptorPool::decode(sessions_proto::FILE_DESCRIPTOR_SET).unwrap();
        // 64-bit integers are JSON strings in the proto3 mapping: not typed.
        let event = pool
            .get_message_by_name("sessions.v1.SessionEvent")
            .unwrap();
        assert!(sessions_proto::render_json(event.full_name(), &[]).is_none());
        let message = filled(&event, 0);
        let json = answer_json(&event, &message.encode_to_vec()).unwrap();
        assert_eq!(json, reflected(&message));
    }
}
