//! `handler serve` as the Functions host runs it: the port from FUNCTIONS_CUSTOMHANDLER_PORT
//! (or --port), JSON logs on stdout under the host, an answer on `GET /`, and a clean exit on
//! SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Starts the handler and returns it with the port it logged.
fn start(env: &[(&str, &str)], args: &[&str]) -> (Child, u16, mpsc::Receiver<serde_json::Value>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_handler"))
        .current_dir(dir.path())
        .env_clear()
        .envs(env.iter().copied())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn handler");
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
            if tx.send(v).is_err() {
                break;
            }
        }
    });
    let port = loop {
        let line = rx.recv_timeout(Duration::from_secs(30)).expect("the handler logs its port within 30 s");
        if let Some(p) = line.pointer("/fields/port").and_then(|p| p.as_u64()) {
            break p as u16;
        }
    };
    (child, port, rx, dir)
}

fn get_root(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    response
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    for _ in 0..200 {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    panic!("the handler did not stop within 10 s of SIGTERM");
}

#[test]
fn under_the_host_it_listens_on_the_given_port_logs_json_and_stops_on_sigterm() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let port_text = free.to_string();
    let (mut child, port, _logs, _dir) = start(&[("FUNCTIONS_CUSTOMHANDLER_PORT", &port_text)], &[]);
    assert_eq!(port, free, "FUNCTIONS_CUSTOMHANDLER_PORT decides the port");
    assert!(get_root(port).starts_with("HTTP/1.1 "), "GET / gets an HTTP answer at once");
    assert!(terminate(&mut child).success(), "graceful shutdown exits 0");
}

#[test]
fn locally_port_zero_picks_a_free_port_and_the_log_says_which() {
    let (mut child, port, _logs, _dir) = start(&[("CADENCE_LOG_FORMAT", "json")], &["serve", "--port", "0"]);
    assert_ne!(port, 0);
    assert!(get_root(port).starts_with("HTTP/1.1 "));
    assert!(terminate(&mut child).success());
}

/// The ledger file is opened while the host is answered, but one that cannot be opened still
/// stops the host: exit 1, and the error names the setting and the path.
#[test]
fn a_ledger_that_cannot_be_opened_stops_the_host_with_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir").join("cadence.db");
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_handler"))
        .current_dir(dir.path())
        .env_clear()
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", free.to_string())
        .env("CADENCE_STATE", format!("sqlite:{}", missing.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn handler");
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains("opening the ledger (CADENCE_STATE=sqlite:"), "{stderr}");
    assert!(stderr.contains("no-such-dir"), "{stderr}");
}
