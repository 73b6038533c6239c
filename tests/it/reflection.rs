//! gRPC reflection: the public services to anyone, `InternalSessionsService`
//! only to callers presenting the service credential; v1 and v1alpha alike.

use sessions_testkit::{Backend, INTERNAL_TOKEN, TestApp};
use tonic::{Request, metadata::MetadataValue};

const INTERNAL: &str = "sessions.v1.InternalSessionsService";
const PUBLIC: [&str; 2] = ["sessions.v1.SessionsService", "grpc.health.v1.Health"];

/// What one reflection version answers: the listed services, and whether the
/// internal service's file is served by symbol and by file name (and the
/// public service's by symbol).
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    services: Vec<String>,
    internal_by_symbol: bool,
    internal_by_file: bool,
    public_by_symbol: bool,
}

/// The same three questions over either generated client, each on its own
/// stream: a lookup that finds nothing ends its stream with NOT_FOUND.
macro_rules! reflect {
    ($pb:path, $app:expr, $authorization:expr) => {{
        use pb::{
            server_reflection_client::ServerReflectionClient,
            server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
        };
        use $pb as pb;
        let mut client = ServerReflectionClient::new($app.channel().await);
        let mut ask = async |message: MessageRequest| -> Result<MessageResponse, tonic::Status> {
            let mut request = Request::new(tokio_stream::iter([pb::ServerReflectionRequest {
                host: String::new(),
                message_request: Some(message),
            }]));
            if let Some(value) = $authorization {
                request
                    .metadata_mut()
                    .insert("authorization", MetadataValue::try_from(value).unwrap());
            }
            let mut answers = client.server_reflection_info(request).await?.into_inner();
            let answer = answers.message().await?.expect("one answer");
            Ok(answer.message_response.expect("a response"))
        };
        let mut services = match ask(MessageRequest::ListServices(String::new())).await {
            Ok(MessageResponse::ListServicesResponse(list)) => {
                list.service.into_iter().map(|s| s.name).collect::<Vec<_>>()
            }
            other => panic!("not a service list: {other:?}"),
        };
        services.sort();
        let served = |answer: Result<MessageResponse, tonic::Status>| match answer {
            Ok(MessageResponse::FileDescriptorResponse(files)) => {
                !files.file_descriptor_proto.is_empty()
            }
            Err(status) if status.code() == tonic::Code::NotFound => false,
            other => panic!("unexpected answer: {other:?}"),
        };
        let internal_by_symbol =
            served(ask(MessageRequest::FileContainingSymbol(INTERNAL.to_owned())).await);
        let internal_by_file = served(
            ask(MessageRequest::FileByFilename(
                "sessions/v1/internal.proto".to_owned(),
            ))
            .await,
        );
        let public_by_symbol = served(
            ask(MessageRequest::FileContainingSymbol(
                "sessions.v1.SessionsService".to_owned(),
            ))
            .await,
        );
        Seen {
            services,
            internal_by_symbol,
            internal_by_file,
            public_by_symbol,
        }
    }};
}

on_both_databases!(reflection_shows_the_internal_service_only_with_the_credential);

async fn reflection_shows_the_internal_service_only_with_the_credential(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let credential = format!("Bearer {INTERNAL_TOKEN}");
    let anonymous = [None, Some("Bearer wrong-credential"), Some(INTERNAL_TOKEN)];
    for authorization in anonymous {
        for seen in [
            reflect!(tonic_reflection::pb::v1, app, authorization),
            reflect!(tonic_reflection::pb::v1alpha, app, authorization),
        ] {
            assert!(!seen.services.iter().any(|s| s == INTERNAL), "{seen:?}");
            for public in PUBLIC {
                assert!(seen.services.iter().any(|s| s == public), "{seen:?}");
            }
            assert!(!seen.internal_by_symbol, "{authorization:?}");
            assert!(!seen.internal_by_file, "{authorization:?}");
            assert!(seen.public_by_symbol, "{authorization:?}");
        }
    }
    for seen in [
        reflect!(tonic_reflection::pb::v1, app, Some(credential.as_str())),
        reflect!(
            tonic_reflection::pb::v1alpha,
            app,
            Some(credential.as_str())
        ),
    ] {
        for service in PUBLIC.into_iter().chain([INTERNAL]) {
            assert!(seen.services.iter().any(|s| s == service), "{seen:?}");
        }
        assert!(seen.internal_by_symbol && seen.internal_by_file, "{seen:?}");
        assert!(seen.public_by_symbol, "{seen:?}");
    }
}
