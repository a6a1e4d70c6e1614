//! The read cache's byte bound, measured in a process of its own (the end-to-end tests share
//! theirs, which would blur the resident memory): 100,000 distinct answers of about 2 KiB each
//! (200 MB in all) through a cache bounded at 16 MiB hold at most 16 MiB, and the process grows
//! by less than 32 MiB.

use std::time::Duration;

use bytes::Bytes;
use orgway::cache::Cache;
use orgway::config::{CacheConfig, CacheTtls};
use orgway::telemetry::Metrics;

/// The process's resident memory, in bytes (Linux).
fn rss() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[tokio::test]
async fn a_hundred_thousand_keys_stay_within_the_byte_bound() {
    let config = CacheConfig {
        max_bytes: 16 * 1024 * 1024,
        stale_while_revalidate: Duration::from_secs(10),
        stale_if_error: Duration::from_secs(300),
        ttl: CacheTtls::default(),
    };
    let metrics = Metrics::new();
    let cache = Cache::standalone(&config, metrics.clone());
    let before = rss();
    for i in 0..100_000u32 {
        let key =
            format!("losant\u{1f}fp\u{1f}0\u{1f}org\u{1f}false\u{1f}ListQuery {{ limit: {i} }}");
        // Each answer its own allocation, as fills make them.
        // Each answer is recorded under a target of its own in the front index too.
        let target = format!("/v1/backends/losant/orgs?limit={i}");
        let body = Bytes::from(vec![b'x'; 1024]);
        cache
            .store_answer(&key, &target, body, Duration::from_secs(60))
            .await;
        if i % 1000 == 0 {
            cache.weighted_size().await;
        }
    }
    let held = cache.weighted_size().await;
    assert!(held <= config.max_bytes, "{held} bytes held");
    assert!(metrics.cache_evictions.get() > 90_000);
    if let (Some(before), Some(after)) = (before, rss()) {
        let grown = after.saturating_sub(before);
        println!(
            "100000 answers through a 16 MiB cache: {held} bytes held, resident memory grew {} KiB",
            grown / 1024
        );
        assert!(
            grown < 32 * 1024 * 1024,
            "resident memory grew by {} MiB",
            grown / (1024 * 1024)
        );
    }
}
