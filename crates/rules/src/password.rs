//! Account passwords as argon2id hashes in PHC string form; the clear text is never stored.
//!
//! Parameters: m = 19 MiB, t = 2, p = 1, the OWASP recommendation for argon2id. A bind
//! verifies one hash, which costs a few tens of milliseconds of one core in release builds:
//! cheap for a bind, dear for an attacker guessing offline. The parameters are read back
//! from each PHC string, so they can be raised later without invalidating stored hashes
//! ([`PasswordHash::needs_rehash`]).

use std::fmt;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Memory cost in KiB (OWASP: 19 MiB).
pub const MEMORY_KIB: u32 = 19 * 1024;
/// Iterations (OWASP: 2).
pub const ITERATIONS: u32 = 2;
/// Lanes (OWASP: 1).
pub const PARALLELISM: u32 = 1;

/// An argon2id hash in PHC string form (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`).
///
/// Deserialising accepts any string so that a snapshot can report a bad one as a problem of
/// its account; [`PasswordHash::is_well_formed`] is what validation checks.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(String);

fn hasher() -> Result<Argon2<'static>, Error> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .map_err(|e| Error::PasswordHash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

impl PasswordHash {
    /// Hashes `clear` with argon2id and a random 16-byte salt from the OS.
    pub fn hash(clear: &str) -> Result<PasswordHash, Error> {
        let salt = SaltString::generate(&mut OsRng);
        let hash = hasher()?
            .hash_password(clear.as_bytes(), &salt)
            .map_err(|e| Error::PasswordHash(e.to_string()))?;
        Ok(PasswordHash(hash.to_string()))
    }

    /// Wraps a stored PHC string as is (check it with [`PasswordHash::is_well_formed`]).
    pub fn from_phc(phc: impl Into<String>) -> PasswordHash {
        PasswordHash(phc.into())
    }

    /// The PHC string.
    pub fn as_phc(&self) -> &str {
        &self.0
    }

    /// Whether this is a parseable argon2id PHC string with a salt and a hash.
    pub fn is_well_formed(&self) -> bool {
        match argon2::PasswordHash::new(&self.0) {
            Ok(h) => {
                h.algorithm == Algorithm::Argon2id.ident()
                    && h.salt.is_some()
                    && h.hash.is_some()
                    && Params::try_from(&h).is_ok()
            }
            Err(_) => false,
        }
    }

    /// Whether `clear` is the password. The comparison is constant-time (inside argon2);
    /// a malformed hash verifies nothing.
    pub fn verify(&self, clear: &str) -> bool {
        let Ok(parsed) = argon2::PasswordHash::new(&self.0) else {
            return false;
        };
        if parsed.algorithm != Algorithm::Argon2id.ident() {
            return false;
        }
        Argon2::default()
            .verify_password(clear.as_bytes(), &parsed)
            .is_ok()
    }

    /// Whether the hash was made with other parameters than today's (hash again at the
    /// next successful bind or password change).
    pub fn needs_rehash(&self) -> bool {
        let Ok(parsed) = argon2::PasswordHash::new(&self.0) else {
            return true;
        };
        match Params::try_from(&parsed) {
            Ok(p) => {
                p.m_cost() != MEMORY_KIB || p.t_cost() != ITERATIONS || p.p_cost() != PARALLELISM
            }
            Err(_) => true,
        }
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The hash is not the password, but it is offline-attackable: keep it out of logs.
        f.write_str("PasswordHash(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_the_password_and_rejects_others() {
        let hash = PasswordHash::hash("s3cret-pw").unwrap();
        assert!(hash.as_phc().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(hash.is_well_formed());
        assert!(!hash.needs_rehash());
        assert!(hash.verify("s3cret-pw"));
        assert!(!hash.verify("s3cret-pW"));
        assert!(!hash.verify(""));
        let again = PasswordHash::hash("s3cret-pw").unwrap();
        assert_ne!(hash, again, "a fresh salt each time");
        assert!(again.verify("s3cret-pw"));
        assert_eq!(format!("{hash:?}"), "PasswordHash(..)");
    }

    #[test]
    fn malformed_and_foreign_hashes_verify_nothing() {
        for bad in ["", "s3cret-pw", "$argon2id$v=19$m=19456,t=2,p=1$"] {
            let h = PasswordHash::from_phc(bad);
            assert!(!h.is_well_formed(), "{bad}");
            assert!(!h.verify(bad));
        }
        // argon2i is not argon2id.
        let argon2i = "$argon2i$v=19$m=16,t=2,p=1$c29tZXNhbHQ$WMh5bjwcYKO3QdZbBpxAjg";
        assert!(!PasswordHash::from_phc(argon2i).is_well_formed());
    }

    #[test]
    fn older_parameters_still_verify_but_want_a_rehash() {
        let params = Params::new(64, 1, 1, None).unwrap();
        let weak = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::generate(&mut OsRng);
        let phc = weak.hash_password(b"pw", &salt).unwrap().to_string();
        let h = PasswordHash::from_phc(phc);
        assert!(h.is_well_formed());
        assert!(h.verify("pw"));
        assert!(h.needs_rehash());
    }
}
