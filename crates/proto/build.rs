//! Compiles `proto/` with protox (pure Rust, no protoc) into prost types, tonic
//! stubs and a descriptor set that keeps the `google.api.http` options.

use std::{env, fs, path::PathBuf};

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

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(compiler.file_descriptor_set())?;

    println!("cargo:rerun-if-changed={}", root.display());
    Ok(())
}
