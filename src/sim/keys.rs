//! Order keys in the styles real gateways produce (`cs_live_…`, PayPal's `66804997RC5418150`,
//! `TGM_20240718_360140305`, UUIDs, …). Each embeds a serial number, so keys never collide.

use fastrand::Rng;

use super::model::Gateway;
use super::periods::compact_date;

/// An order key in the style of its gateway; each embeds `serial`, so keys are unique.
pub(super) fn order_key(
    rng: &mut Rng,
    gateway: &Gateway,
    serial: u64,
    date: i64,
    member_id: u64,
) -> String {
    let digits = |rng: &mut Rng, n: usize| -> String { (0..n).map(|_| rng.digit(10)).collect() };
    let letters = |rng: &mut Rng, n: usize| -> String { (0..n).map(|_| rng.uppercase()).collect() };
    match gateway.code {
        "stripe" => {
            let mode = if rng.f64() < 0.2 { "test" } else { "live" };
            let noise: String = (0..18).map(|_| rng.alphanumeric()).collect();
            format!("cs_{mode}_{noise}{}", base36(serial, 6))
        }
        "paypal" => {
            if rng.bool() {
                format!("{}{}{serial:07}", digits(rng, 8), letters(rng, 2))
            } else {
                format!(
                    "{}{}{}{}{serial:07}",
                    digits(rng, 1),
                    letters(rng, 2),
                    digits(rng, 5),
                    letters(rng, 2)
                )
            }
        }
        "telegram" => format!(
            "TGM_{}_{:09}",
            compact_date(date),
            serial * 1_000 + rng.u64(..1_000)
        ),
        "cryptonokyc" => format!("TGM-{member_id}-{}-{serial:08x}", compact_date(date)),
        "paystack" => format!("T{:06}{serial:010}", rng.u32(..1_000_000)),
        "authorizenet" => format!("{}", 40_000_000_000u64 + serial),
        _ => format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:04x}{serial:08x}",
            rng.u32(..),
            rng.u16(..),
            rng.u16(..),
            rng.u16(..),
            rng.u16(..)
        ),
    }
}

/// `n` in base 36 (lower case), left-padded with zeros to `width`.
fn base36(mut n: u64, width: usize) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::with_capacity(width.max(13));
    while n > 0 {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
    }
    while out.len() < width {
        out.push(b'0');
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::model::GATEWAYS;
    use std::collections::HashSet;

    #[test]
    fn base36_pads() {
        assert_eq!(base36(0, 6), "000000");
        assert_eq!(base36(35, 6), "00000z");
        assert_eq!(base36(36, 2), "10");
    }

    #[test]
    fn keys_are_unique_across_styles() {
        let mut rng = Rng::with_seed(9);
        let mut seen = HashSet::new();
        for serial in 1..=20_000u64 {
            let gateway = &GATEWAYS[(serial % GATEWAYS.len() as u64) as usize];
            let key = order_key(&mut rng, gateway, serial, 1_721_283_834, 42);
            assert!(seen.insert(key.clone()), "duplicate key {key}");
        }
    }
}
