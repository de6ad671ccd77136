//! `cargo xtask <task>`: project automation (fixtures, benchmark data, benchmarks).

fn main() {
    let task = std::env::args().nth(1).unwrap_or_default();
    eprintln!("xtask: unknown task '{task}'");
    std::process::exit(2);
}
