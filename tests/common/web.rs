//! A running `aigcq review --web`, reached over plain HTTP as a browser or an attacker would.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `aigcq review --web` and the page's address.
pub struct Web {
    child: Child,
    pub port: u16,
    pub token: String,
    pub stderr: std::process::ChildStderr,
}

/// The API key the page runs with: no page may show it.
pub const KEY: &str = "sk-aigcq-page-test-secret";

impl Web {
    pub fn start(dir: &Path) -> Web {
        Web::start_with(dir, &[])
    }

    /// With extra environment (the model a feedback reaches).
    pub fn start_with(dir: &Path, env: &[(&str, &str)]) -> Web {
        let mut child = Command::new(env!("CARGO_BIN_EXE_aigcq"))
            .args(["review", "--web", "--no-open"])
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .env("OPENAI_API_KEY", KEY)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line.trim();
        let rest = url
            .strip_prefix("http://127.0.0.1:")
            .unwrap_or_else(|| panic!("address: {url:?}"));
        let (port, token) = rest.split_once("/?token=").unwrap();
        let stderr = child.stderr.take().unwrap();
        Web {
            child,
            port: port.parse().unwrap(),
            token: token.to_owned(),
            stderr,
        }
    }

    pub fn cookie(&self) -> String {
        format!("aigcq-{}={}", self.port, self.token)
    }

    /// A raw request; the status, the headers (lower-case names) and the body.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Response {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            req.push_str(&format!("Host: 127.0.0.1:{}\r\n", self.port));
        }
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(body);
        s.write_all(req.as_bytes()).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let raw = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
        let mut lines = head.lines();
        let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Response {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    /// A GET with the cookie; no page holds the API key.
    pub fn get(&self, path: &str) -> Response {
        let r = self.request("GET", path, &[("Cookie", &self.cookie())], "");
        assert!(!r.body.contains(KEY), "the API key reached {path}");
        r
    }

    /// A form POST from the page itself.
    pub fn post(&self, path: &str, form: &str) -> Response {
        let origin = format!("http://127.0.0.1:{}", self.port);
        self.request(
            "POST",
            path,
            &[
                ("Cookie", &self.cookie()),
                ("Origin", &origin),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            form,
        )
    }

    /// Ends the review as Ctrl-C would; what it printed on stderr.
    pub fn stop(mut self) -> String {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        self.stderr.read_to_string(&mut err).unwrap();
        assert!(status.code().is_some(), "ended by the signal itself: {err}");
        err
    }
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}
