//! The `coach-server` binary as a newcomer runs it: embedded defaults, generated secrets printed
//! once, health and OpenAPI served, a clean stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn start(data_dir: &std::path::Path) -> (Child, String, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_coach-server"))
        .env("COACH_BIND", "127.0.0.1:0")
        .env("COACH_DATA_DIR", data_dir)
        .env_remove("COACH_DATABASE_URL")
        .env_remove("COACH_ADMIN_API_KEY")
        .env_remove("COACH_JWT_SECRET")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn coach-server");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut addr = None;
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(rest) = line.strip_prefix("Coach server listening on http://") {
            addr = Some(rest.split_whitespace().next().unwrap().to_string());
        }
        seen.push(line.clone());
        if line.trim_start().starts_with("app ") {
            break; // the last line of the banner
        }
    }
    std::thread::spawn(move || for _ in lines {});
    (child, addr.expect("server printed its address"), seen)
}

fn http_get(addr: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    let status = buf.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, buf)
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn runs_on_embedded_defaults_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr, out) = start(dir.path());
    let key_line = out.iter().find(|l| l.contains("X-API-Key: coach_admin_"));
    assert!(key_line.is_some(), "admin key printed on first start: {out:?}");
    let (status, body) = http_get(&addr, "/health");
    assert_eq!(status, 200, "{body}");
    let (status, body) = http_get(&addr, "/v1/openapi.json");
    assert_eq!(status, 200);
    assert!(body.contains("\"openapi\""));
    assert!(dir.path().join("coach.db").is_file(), "SQLite file in the data dir");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("secrets.json")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "secrets are private");
    }
    assert!(terminate(&mut child).success(), "graceful exit");

    // second start: same secrets, key not printed again
    let (mut child, addr, out) = start(dir.path());
    assert!(!out.iter().any(|l| l.contains("X-API-Key:")), "key printed only once: {out:?}");
    assert_eq!(http_get(&addr, "/ready").0, 200);
    assert!(terminate(&mut child).success());
}
