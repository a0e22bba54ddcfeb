//! [`TestPki`]: a throw-away certificate authority and the certificates it issued, as PEM
//! files in a temporary directory, for servers started with TLS and the clients of tests.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

use crate::HarnessError;

/// The common name of the client certificate [`TestPki::generate`] issues.
pub const CLIENT_COMMON_NAME: &str = "herald";

/// A CA, a server certificate for `127.0.0.1` and `localhost`, and a client certificate
/// (common name [`CLIENT_COMMON_NAME`]), each written as PEM; the files are deleted with it.
#[derive(Debug)]
pub struct TestPki {
    dir: tempfile::TempDir,
}

impl TestPki {
    /// Generates the CA and both certificates.
    ///
    /// # Errors
    ///
    /// [`HarnessError::Certificate`] when a key or certificate cannot be made, and
    /// [`HarnessError::Io`] when the files cannot be written.
    pub fn generate() -> Result<TestPki, HarnessError> {
        let dir = tempfile::tempdir()?;
        let ca = authority("herald test CA")?;
        std::fs::write(dir.path().join("ca.crt"), ca.pem())?;
        issue(
            &ca,
            &["127.0.0.1", "localhost"],
            "server",
            ExtendedKeyUsagePurpose::ServerAuth,
            dir.path(),
        )?;
        issue(
            &ca,
            &[],
            CLIENT_COMMON_NAME,
            ExtendedKeyUsagePurpose::ClientAuth,
            dir.path(),
        )?;
        // A client certificate no one trusts: signed by a CA the servers do not know.
        let rogue = authority("someone else's CA")?;
        issue(
            &rogue,
            &[],
            "rogue",
            ExtendedKeyUsagePurpose::ClientAuth,
            dir.path(),
        )?;
        Ok(TestPki { dir })
    }

    /// The CA certificate, PEM: what a client trusts the server by, and a server its clients.
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// The server's certificate, PEM, valid for `127.0.0.1` and `localhost`.
    pub fn server_cert(&self) -> PathBuf {
        self.dir.path().join("server.crt")
    }

    /// The server's private key, PEM.
    pub fn server_key(&self) -> PathBuf {
        self.dir.path().join("server.key")
    }

    /// The client's certificate, PEM, signed by [`TestPki::ca`].
    pub fn client_cert(&self) -> PathBuf {
        self.dir.path().join(format!("{CLIENT_COMMON_NAME}.crt"))
    }

    /// The client's private key, PEM.
    pub fn client_key(&self) -> PathBuf {
        self.dir.path().join(format!("{CLIENT_COMMON_NAME}.key"))
    }

    /// A client certificate signed by another CA, which servers of this PKI refuse.
    pub fn rogue_client_cert(&self) -> PathBuf {
        self.dir.path().join("rogue.crt")
    }

    /// The private key of [`TestPki::rogue_client_cert`].
    pub fn rogue_client_key(&self) -> PathBuf {
        self.dir.path().join("rogue.key")
    }
}

fn certificate_error(error: rcgen::Error) -> HarnessError {
    HarnessError::Certificate(error.to_string())
}

/// A self-signed CA named `name`.
fn authority(name: &str) -> Result<CertifiedIssuer<'static, KeyPair>, HarnessError> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(certificate_error)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate().map_err(certificate_error)?;
    CertifiedIssuer::self_signed(params, key).map_err(certificate_error)
}

/// A certificate `ca` signs for `names`, written to `<dir>/<file>.crt` and `<dir>/<file>.key`.
fn issue(
    ca: &CertifiedIssuer<'static, KeyPair>,
    names: &[&str],
    file: &str,
    usage: ExtendedKeyUsagePurpose,
    dir: &Path,
) -> Result<(), HarnessError> {
    let key = KeyPair::generate().map_err(certificate_error)?;
    let mut params =
        CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
            .map_err(certificate_error)?;
    params.distinguished_name.push(DnType::CommonName, file);
    params.extended_key_usages = vec![usage];
    let cert = params.signed_by(&key, ca).map_err(certificate_error)?;
    std::fs::write(dir.join(format!("{file}.crt")), cert.pem())?;
    std::fs::write(dir.join(format!("{file}.key")), key.serialize_pem())?;
    Ok(())
}
