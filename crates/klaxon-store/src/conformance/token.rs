//! Tokens: unique name and hash, lookup by hash, listing.

use std::sync::Arc;

use crate::{Role, Store, StoreError};

pub async fn tokens_are_unique_and_found_by_hash<S: Store>(store: &Arc<S>) {
    let admin = store
        .insert_token("alice", Role::Admin, "hash-a", 5)
        .await
        .unwrap();
    assert_eq!(
        (admin.name.as_str(), admin.role, admin.hash.as_str()),
        ("alice", Role::Admin, "hash-a")
    );
    assert_eq!(admin.created_at, 5);
    let ingest = store
        .insert_token("feeder", Role::Ingest, "hash-b", 6)
        .await
        .unwrap();
    assert_ne!(admin.id, ingest.id);

    let same_name = store.insert_token("alice", Role::Viewer, "hash-c", 7).await;
    assert!(
        matches!(same_name, Err(StoreError::AlreadyExists(_))),
        "{same_name:?}"
    );
    let same_hash = store.insert_token("bob", Role::Viewer, "hash-a", 7).await;
    assert!(
        matches!(same_hash, Err(StoreError::AlreadyExists(_))),
        "{same_hash:?}"
    );

    assert_eq!(
        store.find_token("hash-b").await.unwrap(),
        Some(ingest.clone())
    );
    assert_eq!(store.find_token("hash-c").await.unwrap(), None);
    assert_eq!(store.list_tokens().await.unwrap(), [admin, ingest]);
}
