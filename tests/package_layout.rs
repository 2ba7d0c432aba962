//! Packaging: `scripts/package.sh` assembles the Functions app and zips it; the zip has the
//! layout the Functions host expects (host.json and one folder per function at the root, the
//! executable `handler` with its exec bit), and the packaged binary starts and answers `GET /`.
//!
//! The test packages the `handler` cargo already built for the tests (`HANDLER_BIN`), so it
//! costs seconds; the release build for the Functions image (cargo-zigbuild, glibc 2.28) is the
//! same script without `HANDLER_BIN` (see docs/deploy.md).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the packaging script into `out` with the test build of `handler`.
fn package(out: &Path) {
    let status = Command::new("bash")
        .arg("scripts/package.sh")
        .current_dir(repo())
        .env("HANDLER_BIN", env!("CARGO_BIN_EXE_handler"))
        .env("PACKAGE_OUT", out)
        .status()
        .expect("bash runs scripts/package.sh");
    assert!(status.success(), "scripts/package.sh failed: {status}");
}

/// Zip entries → unix mode, read with python3's zipfile (the tool that wrote them).
fn zip_entries(zip: &Path) -> BTreeMap<String, u32> {
    let out = Command::new("python3")
        .args(["-c", "import sys, zipfile\nfor i in zipfile.ZipFile(sys.argv[1]).infolist(): print(i.filename, (i.external_attr >> 16) & 0o777)", zip.to_str().unwrap()])
        .output()
        .expect("python3 lists the zip");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (name, mode) = l.rsplit_once(' ').unwrap();
            (name.to_string(), mode.parse().unwrap())
        })
        .collect()
}

/// Extracts like the platform does (keeping the mode bits).
fn unzip(zip: &Path, to: &Path) {
    let script = "import os, sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nfor i in z.infolist():\n    p = z.extract(i, sys.argv[2])\n    os.chmod(p, (i.external_attr >> 16) & 0o777)";
    let status = Command::new("python3").args(["-c", script, zip.to_str().unwrap(), to.to_str().unwrap()]).status().unwrap();
    assert!(status.success());
}

fn expected_functions() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo().join("function-definitions"))
        .expect("function-definitions/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("function.json").is_file())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

struct Running(Child);
impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The first line of an HTTP answer to `GET /`, once one arrives (bounded).
fn first_http_answer(port: u16, child: &mut Child, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf);
            let text = String::from_utf8_lossy(&buf);
            if let Some(line) = text.lines().next().filter(|l| l.starts_with("HTTP/1.")) {
                return line.to_string();
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the packaged handler exited before answering: {status}");
        }
        assert!(Instant::now() < deadline, "no HTTP answer on 127.0.0.1:{port} within {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_zip_has_the_functions_layout_and_the_packaged_handler_answers_get_root() {
    let out = tempfile::tempdir().unwrap();
    package(out.path());
    let zip = out.path().join("aks-cadence.zip");

    // Layout: exactly host.json, the handler, one <function>/function.json per definition, the
    // commented example (inactive), and the team's cadence.toml when the repository has one.
    let entries = zip_entries(&zip);
    let mut expected: Vec<String> = vec!["cadence.example.toml".into(), "handler".into(), "host.json".into()];
    expected.extend(expected_functions().iter().map(|f| format!("{f}/function.json")));
    let policy = Some(repo().join("cadence.toml")).filter(|p| p.is_file());
    if policy.is_some() {
        expected.push("cadence.toml".into());
    }
    expected.sort();
    assert_eq!(entries.keys().cloned().collect::<Vec<_>>(), expected);
    assert!(expected_functions().contains(&"aks-events".to_string()), "Event Grid subscriptions deliver to `aks-events`");
    assert_eq!(entries["handler"] & 0o111, 0o111, "handler keeps its exec bit: {:o}", entries["handler"]);
    assert_eq!(entries["host.json"], 0o644);

    // The packaged files are the repository's, byte for byte.
    let app = tempfile::tempdir().unwrap();
    unzip(&zip, app.path());
    assert_eq!(std::fs::read(app.path().join("host.json")).unwrap(), std::fs::read(repo().join("host.json")).unwrap());
    for f in expected_functions() {
        assert_eq!(
            std::fs::read(app.path().join(&f).join("function.json")).unwrap(),
            std::fs::read(repo().join("function-definitions").join(&f).join("function.json")).unwrap(),
            "{f}"
        );
    }
    if let Some(policy) = &policy {
        assert_eq!(std::fs::read(app.path().join("cadence.toml")).unwrap(), std::fs::read(policy).unwrap(), "the default policy");
    }
    let host: serde_json::Value = serde_json::from_slice(&std::fs::read(app.path().join("host.json")).unwrap()).unwrap();
    assert_eq!(host["customHandler"]["description"]["defaultExecutablePath"], "handler");

    // Start it the way the Functions host does: from the app root, with a port to listen on.
    // The host's readiness contract is "any HTTP answer to GET /"; ours is a 200 at once.
    let port = free_port();
    let child = Command::new(app.path().join("handler"))
        .current_dir(app.path())
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .env("CADENCE_STATE", format!("sqlite:{}", app.path().join("ledger.db").display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the packaged handler starts");
    let mut running = Running(child);
    let answer = first_http_answer(port, &mut running.0, Duration::from_secs(30));
    println!("packaged handler answered GET / with `{answer}`");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn packaging_refuses_a_missing_binary_with_a_clear_message() {
    let out = tempfile::tempdir().unwrap();
    let result = Command::new("bash")
        .arg("scripts/package.sh")
        .current_dir(repo())
        .env("HANDLER_BIN", out.path().join("no-such-handler"))
        .env("PACKAGE_OUT", out.path())
        .output()
        .unwrap();
    assert!(!result.status.success());
    let err = String::from_utf8_lossy(&result.stderr);
    assert!(err.contains("HANDLER_BIN") && err.contains("not an executable"), "{err}");
    assert!(!out.path().join("aks-cadence.zip").exists());
}
