//! IP network functions: `cidrsubnet`, `cidrsubnets`, `cidrhost`, `cidrnetmask`.
//!
//! Addresses are handled as 128-bit integers with a width of 32 (IPv4) or 128 (IPv6) bits.
//! Host bits set in a prefix argument are ignored ("10.1.2.3/16" means "10.1.0.0/16").

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use super::args::Kind::*;
use super::args::{def, Call, Def};
use super::FunctionError;
use crate::value::Value;

#[rustfmt::skip]
pub(super) const DEFS: &[Def] = &[
    def("cidrhost", "cidrhost(prefix, hostnum) string", "The address of a host in a network (a negative host number counts from the end).", cidrhost).args(&[Str, Num]),
    def("cidrnetmask", "cidrnetmask(prefix) string", "The IPv4 netmask of a network in dotted-decimal form.", cidrnetmask).args(&[Str]),
    def("cidrsubnet", "cidrsubnet(prefix, newbits, netnum) string", "The subnet numbered netnum after extending the prefix by newbits bits.", cidrsubnet).args(&[Str, Num, Num]),
    def("cidrsubnets", "cidrsubnets(prefix, newbits...) list(string)", "Consecutive non-overlapping subnets, one per number of extra prefix bits.", cidrsubnets).args(&[Str]).rest(Num),
];

/// A network as integers: its first address, prefix length and address width.
struct Net {
    addr: u128,
    len: u32,
    bits: u32,
}

impl Net {
    fn family(&self) -> &'static str {
        if self.bits == 32 {
            "IPv4"
        } else {
            "IPv6"
        }
    }
}

/// The lowest `k` bits set.
fn ones(k: u32) -> u128 {
    if k >= 128 {
        u128::MAX
    } else {
        (1u128 << k) - 1
    }
}

/// The network mask of a prefix length.
fn mask(len: u32, bits: u32) -> u128 {
    ones(bits) ^ ones(bits - len)
}

fn addr_string(addr: u128, bits: u32) -> String {
    if bits == 32 {
        Ipv4Addr::from(addr as u32).to_string()
    } else {
        Ipv6Addr::from(addr).to_string()
    }
}

fn parse(c: &Call, i: usize) -> Result<Net, FunctionError> {
    let text = c.str(i)?;
    let net: IpNet = text
        .parse()
        .map_err(|_| c.err(i, format!("invalid CIDR prefix {}", c.show(i, text))))?;
    Ok(match net {
        IpNet::V4(n) => Net {
            addr: u32::from(n.network()) as u128,
            len: n.prefix_len().into(),
            bits: 32,
        },
        IpNet::V6(n) => Net {
            addr: u128::from(n.network()),
            len: n.prefix_len().into(),
            bits: 128,
        },
    })
}

fn cidrsubnet(c: &Call) -> Result<Value, FunctionError> {
    let net = parse(c, 0)?;
    let (newbits, netnum) = (c.int(1)?, c.int(2)?);
    if newbits < 0 {
        return Err(c.err(1, "the number of new bits must not be negative"));
    }
    let newlen = net.len as i64 + newbits;
    if newlen > net.bits as i64 {
        return Err(c.err(
            1,
            format!(
                "insufficient address space to extend prefix of {} by {newbits}",
                net.len
            ),
        ));
    }
    let fits = newbits >= 63 || netnum < (1i64 << newbits);
    if netnum < 0 || !fits {
        return Err(c.err(
            2,
            format!(
                "prefix extension of {newbits} does not accommodate a subnet numbered {netnum}"
            ),
        ));
    }
    let newlen = newlen as u32;
    let offset = (netnum as u128).checked_shl(net.bits - newlen).unwrap_or(0);
    Ok(Value::String(format!(
        "{}/{newlen}",
        addr_string(net.addr | offset, net.bits)
    )))
}

fn cidrhost(c: &Call) -> Result<Value, FunctionError> {
    let net = parse(c, 0)?;
    let hostnum = c.int(1)?;
    let size = 1u128.checked_shl(net.bits - net.len); // None: 2^128 hosts
    let magnitude = hostnum.unsigned_abs() as u128;
    let host = match (hostnum < 0, size) {
        (false, Some(size)) if magnitude < size => Some(magnitude),
        (false, None) => Some(magnitude),
        (true, Some(size)) if magnitude <= size => Some(size - magnitude),
        (true, None) => Some(magnitude.wrapping_neg()),
        _ => None,
    };
    let Some(host) = host else {
        return Err(c.err(
            1,
            format!(
                "prefix of {} bits cannot accommodate a host numbered {hostnum}",
                net.len
            ),
        ));
    };
    Ok(Value::String(addr_string(
        net.addr.wrapping_add(host) & ones(net.bits),
        net.bits,
    )))
}

fn cidrnetmask(c: &Call) -> Result<Value, FunctionError> {
    let net = parse(c, 0)?;
    if net.bits != 32 {
        return Err(c.err(0, "only IPv4 prefixes have a netmask"));
    }
    Ok(Value::String(addr_string(mask(net.len, 32), 32)))
}

/// Terraform's algorithm: each subnet starts at the first address after the previous one that
/// is aligned to the new subnet's size.
fn cidrsubnets(c: &Call) -> Result<Value, FunctionError> {
    let net = parse(c, 0)?;
    let base = net.addr;
    let mut current = (base.wrapping_sub(1) & mask(net.len, net.bits), net.len);
    let mut out = Vec::new();
    for i in 1..c.len() {
        let newbits = c.int(i)?;
        if newbits < 1 {
            return Err(c.err(i, "must extend the prefix by at least one bit"));
        }
        let len = net.len as i64 + newbits;
        if len > net.bits as i64 {
            return Err(c.err(
                i,
                format!(
                    "would extend the prefix to {len} bits, which is too long for an {} address",
                    net.family()
                ),
            ));
        }
        let len = len as u32;
        let current_last = current.0 | ones(net.bits - current.1);
        let last = (current_last & mask(len, net.bits)) | ones(net.bits - len);
        let next = last.wrapping_add(1) & ones(net.bits);
        if next == 0 || next & mask(net.len, net.bits) != base {
            return Err(c.err(
                i,
                format!(
                    "not enough remaining address space for a subnet with a prefix of {len} bits after {}/{}",
                    addr_string(current.0, net.bits),
                    current.1
                ),
            ));
        }
        current = (next, len);
        out.push(Value::String(format!(
            "{}/{len}",
            addr_string(next, net.bits)
        )));
    }
    Ok(Value::List(out))
}

#[cfg(test)]
mod tests {
    use super::super::tests::support::*;
    use crate::value::Value;

    #[test]
    fn subnet() {
        assert_eq!(
            ok("cidrsubnet", vec![s("10.1.0.0/16"), n(8.0), n(2.0)]),
            s("10.1.2.0/24")
        );
        assert_eq!(
            ok("cidrsubnet", vec![s("172.16.0.0/12"), n(4.0), n(2.0)]),
            s("172.18.0.0/16")
        );
        assert_eq!(
            ok("cidrsubnet", vec![s("10.1.2.3/16"), n(0.0), n(0.0)]),
            s("10.1.0.0/16")
        );
        assert_eq!(
            ok(
                "cidrsubnet",
                vec![s("fd00:fd12:3456:7890::/56"), n(16.0), n(162.0)]
            ),
            s("fd00:fd12:3456:7800:a200::/72")
        );
        let e = err("cidrsubnet", vec![s("10.1.0.0/16"), n(8.0), n(256.0)]);
        assert_eq!(e.argument, Some(2));
        assert!(e
            .message
            .contains("does not accommodate a subnet numbered 256"));
        let e = err("cidrsubnet", vec![s("10.1.0.0/16"), n(17.0), n(0.0)]);
        assert!(e.message.contains("insufficient address space"));
        let e = err("cidrsubnet", vec![s("10.1.0.0"), n(1.0), n(0.0)]);
        assert_eq!(
            e.message,
            "argument 1 of cidrsubnet: invalid CIDR prefix \"10.1.0.0\""
        );
    }

    #[test]
    fn host() {
        assert_eq!(
            ok("cidrhost", vec![s("10.12.112.0/20"), n(16.0)]),
            s("10.12.112.16")
        );
        assert_eq!(
            ok("cidrhost", vec![s("10.12.112.0/20"), n(268.0)]),
            s("10.12.113.12")
        );
        assert_eq!(
            ok("cidrhost", vec![s("10.12.112.0/20"), n(-1.0)]),
            s("10.12.127.255")
        );
        assert_eq!(
            ok(
                "cidrhost",
                vec![s("fd00:fd12:3456:7890:00a2::/72"), n(34.0)]
            ),
            s("fd00:fd12:3456:7890::22")
        );
        let e = err("cidrhost", vec![s("10.0.0.0/24"), n(256.0)]);
        assert_eq!(
            e.message,
            "argument 2 of cidrhost: prefix of 24 bits cannot accommodate a host numbered 256"
        );
        assert!(err("cidrhost", vec![s("10.0.0.0/24"), n(-257.0)])
            .message
            .contains("-257"));
    }

    #[test]
    fn netmask() {
        assert_eq!(
            ok("cidrnetmask", vec![s("172.16.0.0/12")]),
            s("255.240.0.0")
        );
        assert_eq!(ok("cidrnetmask", vec![s("0.0.0.0/0")]), s("0.0.0.0"));
        assert_eq!(
            ok("cidrnetmask", vec![s("10.0.0.1/32")]),
            s("255.255.255.255")
        );
        assert!(err("cidrnetmask", vec![s("fd00::/8")])
            .message
            .contains("only IPv4"));
    }

    #[test]
    fn subnets() {
        assert_eq!(
            ok(
                "cidrsubnets",
                vec![s("10.1.0.0/16"), n(4.0), n(4.0), n(8.0), n(4.0)]
            ),
            strs(&[
                "10.1.0.0/20",
                "10.1.16.0/20",
                "10.1.32.0/24",
                "10.1.48.0/20"
            ])
        );
        assert_eq!(
            ok(
                "cidrsubnets",
                vec![s("fd00:fd12:3456:7890::/56"), n(16.0), n(16.0)]
            ),
            strs(&["fd00:fd12:3456:7800::/72", "fd00:fd12:3456:7800:100::/72"])
        );
        let e = err(
            "cidrsubnets",
            vec![s("10.0.0.0/30"), n(1.0), n(1.0), n(1.0)],
        );
        assert_eq!(e.argument, Some(3));
        assert!(e.message.contains("not enough remaining address space"));
        assert!(err("cidrsubnets", vec![s("10.0.0.0/30"), n(3.0)])
            .message
            .contains("too long for an IPv4"));
    }

    #[test]
    fn marks() {
        assert_eq!(
            ok("cidrhost", vec![s("10.0.0.0/8"), Value::Unknown]),
            Value::Unknown
        );
        assert_eq!(
            ok("cidrnetmask", vec![secret(s("10.0.0.0/8"))]),
            secret(s("255.0.0.0"))
        );
        let e = err("cidrnetmask", vec![secret(s("nope"))]);
        assert!(!e.message.contains("nope"));
    }
}
