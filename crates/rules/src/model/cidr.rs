//! IP networks in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`), for account IP allow-lists.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An IPv4 or IPv6 network. A bare address is a single host (`/32` or `/128`). Host bits
/// must be zero (`10.0.0.1/8` is refused: it is almost always a typo).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cidr {
    network: IpAddr,
    prefix_len: u8,
}

/// Why a string is not a CIDR.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CidrParseError {
    /// The address part is not an IP address.
    #[error("{0:?} is not an IP address")]
    Address(String),
    /// The length is not a number within 0..=32 (IPv4) or 0..=128 (IPv6).
    #[error("{0:?} is not a valid prefix length")]
    PrefixLength(String),
    /// Bits beyond the prefix are set.
    #[error("{0} has host bits set (the network is {1})")]
    HostBits(String, Cidr),
}

impl Cidr {
    /// The network `addr/prefix_len`; host bits must be zero.
    pub fn new(addr: IpAddr, prefix_len: u8) -> Result<Cidr, CidrParseError> {
        let max = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        if prefix_len > max {
            return Err(CidrParseError::PrefixLength(prefix_len.to_string()));
        }
        let cidr = Cidr {
            network: mask(addr, prefix_len),
            prefix_len,
        };
        if cidr.network != addr {
            return Err(CidrParseError::HostBits(
                format!("{addr}/{prefix_len}"),
                cidr,
            ));
        }
        Ok(cidr)
    }

    /// The network address.
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length in bits.
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// Whether `ip` is in this network. IPv4-mapped IPv6 addresses (`::ffff:10.1.2.3`, what a
    /// dual-stack listener reports for IPv4 peers) count as their IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        match (self.network, ip) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                mask(ip, self.prefix_len) == self.network
            }
            _ => false,
        }
    }
}

fn mask(addr: IpAddr, prefix_len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let m = u32::MAX
                .checked_shl(32 - u32::from(prefix_len))
                .unwrap_or(0);
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let m = u128::MAX
                .checked_shl(128 - u32::from(prefix_len))
                .unwrap_or(0);
            IpAddr::V6((bits & m).into())
        }
    }
}

impl FromStr for Cidr {
    type Err = CidrParseError;

    fn from_str(s: &str) -> Result<Cidr, CidrParseError> {
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| CidrParseError::Address(addr.to_owned()))?;
        let len = match len {
            Some(l) => l
                .parse::<u8>()
                .map_err(|_| CidrParseError::PrefixLength(l.to_owned()))?,
            None if addr.is_ipv4() => 32,
            None => 128,
        };
        Cidr::new(addr, len)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix_len)
    }
}

impl Serialize for Cidr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Cidr, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn v4_networks_and_hosts() {
        let net: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains(ip("10.255.1.2")));
        assert!(!net.contains(ip("11.0.0.1")));
        assert!(net.contains(ip("::ffff:10.1.2.3")), "v4-mapped v6 peer");
        assert!(!net.contains(ip("2001:db8::1")));
        let host: Cidr = "192.0.2.7".parse().unwrap();
        assert_eq!(host.to_string(), "192.0.2.7/32");
        assert!(host.contains(ip("192.0.2.7")));
        assert!(!host.contains(ip("192.0.2.8")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.9")));
    }

    #[test]
    fn v6_networks() {
        let net: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(net.contains(ip("2001:db8:ffff::1")));
        assert!(!net.contains(ip("2001:db9::1")));
        assert!(!net.contains(ip("10.0.0.1")));
        let host: Cidr = "::1".parse().unwrap();
        assert_eq!(host.prefix_len(), 128);
        let all: Cidr = "::/0".parse().unwrap();
        assert!(all.contains(ip("2001:db8::1")));
    }

    #[test]
    fn bad_cidrs_are_refused() {
        assert!(matches!(
            "10.0.0.1/8".parse::<Cidr>(),
            Err(CidrParseError::HostBits(..))
        ));
        assert!(matches!(
            "10.0.0.0/33".parse::<Cidr>(),
            Err(CidrParseError::PrefixLength(_))
        ));
        assert!(matches!(
            "2001:db8::/129".parse::<Cidr>(),
            Err(CidrParseError::PrefixLength(_))
        ));
        assert!(matches!(
            "10.0.0/8".parse::<Cidr>(),
            Err(CidrParseError::Address(_))
        ));
        assert!("10.0.0.0/x".parse::<Cidr>().is_err());
        let json: Result<Cidr, _> = serde_json::from_str(r#""10.0.0.1/8""#);
        assert!(json.is_err());
        let ok: Cidr = serde_json::from_str(r#""10.0.0.0/8""#).unwrap();
        assert_eq!(serde_json::to_string(&ok).unwrap(), r#""10.0.0.0/8""#);
    }
}
