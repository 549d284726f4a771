//! The signature-verification baseline the benchmarks print beside their rates: how many
//! sr25519 or ed25519 verifications one core of this machine does per second, measured in the
//! same run, so that rates from different machines can be compared.

use sp_core::{ed25519, sr25519, Pair};
use std::time::{Duration, Instant};

/// sr25519 verifications per second on the calling thread, over about `duration`.
pub fn sr25519_verify_rate(duration: Duration) -> f64 {
    verify_rate::<sr25519::Pair>(duration)
}

/// ed25519 verifications per second on the calling thread, over about `duration`.
pub fn ed25519_verify_rate(duration: Duration) -> f64 {
    verify_rate::<ed25519::Pair>(duration)
}

fn verify_rate<P: Pair>(duration: Duration) -> f64 {
    let (pair, _) = P::generate();
    let message = [7u8; 128];
    let signature = pair.sign(&message);
    let public = pair.public();
    let started = Instant::now();
    let mut count = 0u64;
    while started.elapsed() < duration {
        for _ in 0..64 {
            if P::verify(&signature, message, &public) {
                count += 1;
            }
        }
    }
    count as f64 / started.elapsed().as_secs_f64()
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_baselines_verify_real_signatures() {
        let short = std::time::Duration::from_millis(20);
        assert!(super::sr25519_verify_rate(short) > 0.0);
        assert!(super::ed25519_verify_rate(short) > 0.0);
    }
}
