//! Certificates for the TLS suites, made with `openssl` for each run: a CA, another CA, a
//! server certificate for 127.0.0.1 (usable as a client certificate too, as nodes present it
//! to each other), a second server certificate, and client certificates (valid, expired,
//! signed by the other CA); plus `redis-cli --tls` and `openssl s_client` helpers.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::scratch_dir;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA, a server certificate for 127.0.0.1, client certificates (valid, expired, signed by
/// another CA), in `dir`.
pub struct Pki {
    pub dir: PathBuf,
}

impl Pki {
    /// Makes every certificate in a fresh scratch directory.
    pub fn create() -> Pki {
        let dir = scratch_dir("pki");
        for ca in ["ca", "other-ca"] {
            openssl(
                &dir,
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-keyout",
                    &format!("{ca}.key"),
                    "-out",
                    &format!("{ca}.crt"),
                    "-days",
                    "30",
                    "-subj",
                    &format!("/CN=slotgate test {ca}"),
                ],
            );
        }
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n",
        )
        .unwrap();
        std::fs::write(dir.join("client.ext"), "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n").unwrap();
        let pki = Pki { dir };
        pki.leaf("server", "ca", "server.ext", "/CN=127.0.0.1");
        pki.leaf("server2", "ca", "server.ext", "/CN=second server cert");
        pki.leaf("client", "ca", "client.ext", "/CN=app");
        pki.leaf("stranger", "other-ca", "client.ext", "/CN=stranger");
        pki.expired_client();
        pki
    }

    fn leaf(&self, name: &str, ca: &str, ext: &str, subject: &str) {
        let d = &self.dir;
        openssl(
            d,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                subject,
            ],
        );
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                &format!("{ca}.crt"),
                "-CAkey",
                &format!("{ca}.key"),
                "-CAcreateserial",
                "-out",
                &format!("{name}.crt"),
                "-days",
                "30",
                "-extfile",
                ext,
            ],
        );
    }

    /// A client certificate whose validity ended in 2020 (`openssl ca` sets explicit dates).
    fn expired_client(&self) {
        let d = &self.dir;
        std::fs::write(d.join("index.txt"), "").unwrap();
        std::fs::write(d.join("serial"), "1000\n").unwrap();
        let cnf = format!(
            "[ca]\ndefault_ca = dflt\n[dflt]\ndatabase = {0}/index.txt\nnew_certs_dir = {0}\nserial = {0}/serial\ndefault_md = sha256\npolicy = any\nx509_extensions = ext\n[any]\ncommonName = supplied\n[ext]\nbasicConstraints = CA:FALSE\nextendedKeyUsage = clientAuth\n",
            d.display()
        );
        std::fs::write(d.join("ca.cnf"), cnf).unwrap();
        openssl(
            d,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "expired.key",
                "-out",
                "expired.csr",
                "-subj",
                "/CN=expired",
            ],
        );
        openssl(
            d,
            &[
                "ca",
                "-batch",
                "-config",
                "ca.cnf",
                "-cert",
                "ca.crt",
                "-keyfile",
                "ca.key",
                "-in",
                "expired.csr",
                "-out",
                "expired.crt",
                "-startdate",
                "20200101000000Z",
                "-enddate",
                "20200102000000Z",
                "-notext",
            ],
        );
    }

    /// The path of one of the files (`ca.crt`, `server.key`, ...).
    pub fn path(&self, f: &str) -> String {
        self.dir.join(f).display().to_string()
    }
}

/// `redis-cli --tls` against 127.0.0.1:`port`, verifying with the CA, presenting the named
/// client certificate if any.
pub fn tls_cli(pki: &Pki, port: u16, client: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new("redis-cli");
    cmd.args(["--tls", "--cacert", &pki.path("ca.crt"), "-p", &port.to_string()]);
    if let Some(c) = client {
        cmd.args(["--cert", &pki.path(&format!("{c}.crt")), "--key", &pki.path(&format!("{c}.key"))]);
    }
    cmd.args(args).output().expect("redis-cli")
}

/// What a command printed, trimmed.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// The subject of the certificate the TLS port presents now.
pub fn presented_subject(pki: &Pki, port: u16) -> String {
    let mut child = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}"), "-CAfile", &pki.path("ca.crt")])
        .args(["-cert", &pki.path("client.crt"), "-key", &pki.path("client.key")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines().find(|l| l.starts_with("subject=")).unwrap_or_default().to_string()
}

/// A redis-rs connection over TLS (rustls) to 127.0.0.1:`port`, verifying the server with the
/// CA and presenting the named client certificate if any.
pub fn redis_rs_tls(pki: &Pki, port: u16, client: Option<&str>) -> redis::RedisResult<redis::Connection> {
    let read = |f: &str| std::fs::read(pki.dir.join(f)).expect("certificate file");
    let client_tls = client.map(|c| redis::ClientTlsConfig {
        client_cert: read(&format!("{c}.crt")),
        client_key: read(&format!("{c}.key")),
    });
    let certs = redis::TlsCertificates { client_tls, root_cert: Some(read("ca.crt")) };
    redis::Client::build_with_tls(format!("rediss://127.0.0.1:{port}/"), certs)?.get_connection()
}
