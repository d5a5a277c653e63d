//! The test bed's native echo server: `tb-echo PORT [BIND]` (see `haagent_testbed::echo`).

fn main() {
    let mut args = std::env::args().skip(1);
    let port = args.next().and_then(|p| p.parse().ok()).unwrap_or(8080);
    let bind = args
        .next()
        .and_then(|b| b.parse().ok())
        .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED);
    if let Err(e) = haagent_testbed::echo::serve(port, bind) {
        eprintln!("tb-echo: {e}");
        std::process::exit(1);
    }
}
