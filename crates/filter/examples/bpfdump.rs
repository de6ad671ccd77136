//! Print the compiled program for an expression, like `tcpdump -y LINKTYPE -d EXPR`.
//!
//! Usage: `cargo run -p pcapx-filter --example bpfdump -- [LINKTYPE] EXPR`

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (lt, expr) = match args.as_slice() {
        [expr] => (1, expr.clone()),
        [lt, expr] => (
            pcapx_filter::linktype_from_name(lt).unwrap_or(u32::MAX),
            expr.clone(),
        ),
        _ => {
            eprintln!("usage: bpfdump [LINKTYPE] EXPR");
            std::process::exit(2);
        }
    };
    // `tcpdump -d` compiles for a live capture, as `pcapx filter --dump` does.
    let opts = pcapx_filter::Options {
        live: true,
        ..pcapx_filter::Options::new(lt)
    };
    match pcapx_filter::compile_with(&expr, &opts) {
        Ok(p) => print!("{}", p.dump()),
        Err(e) => {
            eprintln!("{}", e.render(&expr));
            std::process::exit(1);
        }
    }
}
