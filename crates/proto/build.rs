//! Compiles `proto/` with protox (pure Rust, no protoc) into prost types, tonic
//! stubs and a descriptor set that keeps the `google.api.http` options.

use std::{collections::BTreeSet, env, fs, path::PathBuf};

use prost_types::{
    DescriptorProto, FileDescriptorSet,
    field_descriptor_proto::{Label, Type},
};

/// The files whose messages the REST edge writes as JSON: their prost types
/// also derive `serde::Serialize`, so answers skip the reflection transcoder.
const REST_FILES: &[&str] = &["sessions/v1/types.proto", "sessions/v1/sessions.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = [
        "sessions/v1/types.proto",
        "sessions/v1/sessions.proto",
        "sessions/v1/internal.proto",
    ];
    let mut compiler = protox::Compiler::new([root.clone(), root.join("third_party")])?;
    compiler.include_imports(true);
    compiler.open_files(files)?;

    // The encoded set keeps options prost_types would drop (the http rules).
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join("sessions_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;

    let descriptors = compiler.file_descriptor_set();
    let serializable = serializable_messages(&descriptors);
    let mut builder = tonic_prost_build::configure()
        .build_client(true)
        .build_server(true);
    for (package, message) in rest_messages(&descriptors) {
        let full_name = format!("{package}.{}", message.name());
        if !serializable.contains(&full_name) {
            continue;
        }
        builder = builder.message_attribute(format!(".{full_name}"), "#[derive(serde::Serialize)]");
        for field in &message.field {
            let path = format!(".{full_name}.{}", field.name());
            builder = builder
                .field_attribute(&path, format!("#[serde(rename = {:?})]", field.json_name()));
            if has_presence(field) {
                builder = builder
                    .field_attribute(&path, "#[serde(skip_serializing_if = \"Option::is_none\")]");
            }
        }
    }
    // `prost::Name` on every message: the parameter bounds find a request's
    // descriptor by its full name.
    let mut config = tonic_prost_build::Config::new();
    config.enable_type_names();
    builder.compile_fds_with_config(descriptors, config)?;
    fs::write(out_dir.join("rest_json.rs"), renderer_table(&serializable))?;

    println!("cargo:rerun-if-changed={}", root.display());
    Ok(())
}

fn rest_messages(set: &FileDescriptorSet) -> impl Iterator<Item = (&str, &DescriptorProto)> {
    set.file
        .iter()
        // proto2 and editions have other presence rules than `has_presence`'s.
        .filter(|file| REST_FILES.contains(&file.name()) && file.syntax() == "proto3")
        .flat_map(|file| file.message_type.iter().map(move |m| (file.package(), m)))
}

/// Fields that are absent when unset: the reflection transcoder omits them,
/// and so must serde.
fn has_presence(field: &prost_types::FieldDescriptorProto) -> bool {
    field.label() != Label::Repeated && (field.proto3_optional() || field.r#type() == Type::Message)
}

/// Messages whose serde rendering equals the proto3 JSON mapping the edge
/// uses: strings, bools, 32-bit integers, repeated strings and messages made of
/// the same. 64-bit integers (JSON strings), enums (names), bytes (base64),
/// floats (`NaN` as a string), maps and oneofs are left to reflection, as is
/// any message holding one of them.
fn serializable_messages(set: &FileDescriptorSet) -> BTreeSet<String> {
    // serde writes fields in declaration order, reflection in number order.
    let candidates: Vec<(String, &DescriptorProto)> = rest_messages(set)
        .filter(|(_, m)| {
            m.nested_type.is_empty()
                && m.enum_type.is_empty()
                && m.field
                    .windows(2)
                    .all(|pair| pair[0].number() < pair[1].number())
        })
        .map(|(package, m)| (format!("{package}.{}", m.name()), m))
        .collect();
    let mut accepted: BTreeSet<String> = candidates.iter().map(|(name, _)| name.clone()).collect();
    // Drop a message when one of its fields is not plain; repeat until stable,
    // since a dropped message makes the messages holding it unfit too.
    loop {
        let before = accepted.len();
        for (name, message) in &candidates {
            let plain = message.field.iter().all(|field| {
                let synthetic_oneof = field.proto3_optional();
                (field.oneof_index.is_none() || synthetic_oneof)
                    && match field.r#type() {
                        Type::String
                        | Type::Bool
                        | Type::Int32
                        | Type::Sint32
                        | Type::Sfixed32
                        | Type::Uint32
                        | Type::Fixed32 => true,
                        Type::Message => {
                            accepted.contains(field.type_name().trim_start_matches('.'))
                        }
                        _ => false,
                    }
            });
            if !plain {
                accepted.remove(name);
            }
        }
        if accepted.len() == before {
            return accepted;
        }
    }
}

/// `render_json`: full message name to the serde rendering of its prost type.
fn renderer_table(serializable: &BTreeSet<String>) -> String {
    let mut arms = String::new();
    for full_name in serializable {
        let type_name = full_name.rsplit('.').next().unwrap_or(full_name);
        arms.push_str(&format!(
            "        {full_name:?} => Some(render::<v1::{type_name}>(encoded)),\n"
        ));
    }
    format!(
        "/// The JSON of the encoded message `full_name`, when its prost type can\n\
         /// render it (see `build.rs`); `None` leaves it to reflection.\n\
         pub fn render_json(full_name: &str, encoded: &[u8]) -> Option<Result<Vec<u8>, RenderError>> {{\n\
         \x20   match full_name {{\n{arms}        _ => None,\n    }}\n}}\n"
    )
}
