//! Generated protobuf types and tonic stubs of the session service.

#![allow(unreachable_pub, clippy::all)]

/// `sessions.v1`: the public and internal session services.
pub mod v1 {
    tonic::include_proto!("sessions.v1");
}

/// `google.api`: the HTTP rule annotations the REST edge reads.
pub mod google_api {
    tonic::include_proto!("google.api");
}

/// The encoded descriptor set of every proto file, options included; the REST
/// edge builds its routes from it.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/sessions_descriptor.bin"));
