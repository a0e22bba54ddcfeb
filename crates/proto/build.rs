//! Generates Rust from `proto/` with tonic and prost (needs `protoc`, installed by
//! `scripts/install-deps.sh`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let files = [
        "herald/bus/v1/bus.proto",
        "herald/node/v1/node.proto",
        "herald/admin/v1/admin.proto",
    ];
    let paths: Vec<_> = files.iter().map(|f| root.join(f)).collect();
    for path in &paths {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    tonic_prost_build::configure()
        // A batch member's body is handed out as a slice of the received buffer, not copied.
        .bytes(".herald.bus.v1.BatchMember.payload")
        .compile_protos(&paths, &[root])?;
    Ok(())
}
