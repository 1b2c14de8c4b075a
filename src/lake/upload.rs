//! One data file into the store: small files in one PUT, large ones as a multipart
//! upload of [`PART_BYTES`] parts, each part sent (and retried by object_store) on its
//! own, so that a slow link fails a part's request at worst, not a whole file's upload
//! on every run.

use bytes::Bytes;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};

/// Files of at least this size go up in parts.
pub(crate) const MULTIPART_THRESHOLD: usize = 8 * 1024 * 1024;
/// The size of each part but the last (S3 wants 5 MiB at least).
pub(crate) const PART_BYTES: usize = 8 * 1024 * 1024;
/// Parts of one file in flight at once.
const PARTS_IN_FLIGHT: usize = 4;

/// How a file went up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Uploaded {
    Whole,
    Parts(usize),
}

/// The number of parts a file of `len` bytes is sent in (1: one PUT).
pub(crate) fn parts_for(len: usize, threshold: usize, part_bytes: usize) -> usize {
    if len < threshold || part_bytes == 0 {
        1
    } else {
        len.div_ceil(part_bytes)
    }
}

/// Puts `bytes` at `at`: see the module's description.
pub(crate) async fn upload(
    store: &dyn ObjectStore,
    at: &StorePath,
    bytes: Bytes,
) -> object_store::Result<Uploaded> {
    upload_with(store, at, bytes, MULTIPART_THRESHOLD, PART_BYTES).await
}

async fn upload_with(
    store: &dyn ObjectStore,
    at: &StorePath,
    mut bytes: Bytes,
    threshold: usize,
    part_bytes: usize,
) -> object_store::Result<Uploaded> {
    let parts = parts_for(bytes.len(), threshold, part_bytes);
    if parts == 1 {
        store.put(at, bytes.into()).await?;
        return Ok(Uploaded::Whole);
    }
    let mut writer =
        WriteMultipart::new_with_chunk_size(store.put_multipart(at).await?, part_bytes);
    while !bytes.is_empty() {
        if let Err(e) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
            // Parts already stored are dropped with the upload, not left billed.
            let _ = writer.abort().await;
            return Err(e);
        }
        let part = bytes.split_to(bytes.len().min(part_bytes));
        writer.put(part);
    }
    writer.finish().await?;
    Ok(Uploaded::Parts(parts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;

    #[test]
    fn files_of_eight_mebibytes_and_more_go_up_in_parts() {
        let mib = 1024 * 1024;
        assert_eq!(parts_for(0, MULTIPART_THRESHOLD, PART_BYTES), 1);
        assert_eq!(parts_for(8 * mib - 1, MULTIPART_THRESHOLD, PART_BYTES), 1);
        assert_eq!(parts_for(8 * mib, MULTIPART_THRESHOLD, PART_BYTES), 1);
        assert_eq!(parts_for(8 * mib + 1, MULTIPART_THRESHOLD, PART_BYTES), 2);
        assert_eq!(parts_for(40 * mib, MULTIPART_THRESHOLD, PART_BYTES), 5);
    }

    #[tokio::test]
    async fn a_large_file_arrives_whole_through_its_parts() {
        let store = InMemory::new();
        let bytes: Bytes = (0..100_000u32)
            .flat_map(|i| i.to_le_bytes())
            .collect::<Vec<_>>()
            .into();
        let at = StorePath::from("bot_id=1/part-x.parquet");
        let how = upload_with(&store, &at, bytes.clone(), 64 * 1024, 64 * 1024)
            .await
            .expect("uploaded");
        assert_eq!(how, Uploaded::Parts(bytes.len().div_ceil(64 * 1024)));
        let back = store
            .get(&at)
            .await
            .expect("get")
            .bytes()
            .await
            .expect("bytes");
        assert_eq!(back, bytes);
        let small = StorePath::from("bot_id=1/part-y.parquet");
        let how = upload_with(
            &store,
            &small,
            Bytes::from_static(b"PAR1"),
            64 * 1024,
            64 * 1024,
        )
        .await
        .expect("uploaded");
        assert_eq!(how, Uploaded::Whole);
    }
}
