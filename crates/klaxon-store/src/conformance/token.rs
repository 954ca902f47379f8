//! Tokens and dashboard sessions: unique names among tokens in force and unique hashes,
//! lookup by hash, revocation (which ends the token's sessions and never leaves no admin),
//! last use, sessions capped per token without touching other tokens', and the expiry sweep.

use std::sync::Arc;

use crate::{NewSession, NewToken, Role, Store, StoreError, TokenState};

fn new_token(name: &str, role: Role, hash: &str) -> NewToken {
    NewToken {
        name: name.to_owned(),
        role,
        hash: hash.to_owned(),
        created_at: 10,
        created_by: Some("root".to_owned()),
        expires_at: None,
        user: None,
    }
}

fn session(key: &str, token_id: i64, created_at: i64, expires_at: i64) -> NewSession {
    NewSession {
        key: key.to_owned(),
        token_id,
        csrf: format!("csrf-{key}"),
        created_at,
        expires_at,
    }
}

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
        .create_token(NewToken {
            expires_at: Some(1_000),
            user: Some("bob".to_owned()),
            ..new_token("feeder", Role::Ingest, "hash-b")
        })
        .await
        .unwrap();
    assert_ne!(admin.id, ingest.id);
    assert_eq!(
        (
            ingest.created_by.as_deref(),
            ingest.expires_at,
            ingest.user.as_deref(),
            ingest.revoked_at,
            ingest.last_used_at
        ),
        (Some("root"), Some(1_000), Some("bob"), None, None)
    );

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

pub async fn revoking_ends_sessions_frees_the_name_and_keeps_an_admin<S: Store>(store: &Arc<S>) {
    let first = store
        .create_token(new_token("first", Role::Admin, "h1"))
        .await
        .unwrap();
    let viewer = store
        .create_token(new_token("viewer", Role::Viewer, "h2"))
        .await
        .unwrap();
    store
        .open_session(session("s-viewer", viewer.id, 20, 1_000), 20)
        .await
        .unwrap();
    store
        .open_session(session("s-first", first.id, 20, 1_000), 20)
        .await
        .unwrap();

    let revoked = store.revoke_token(viewer.id, 50).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(50));
    assert_eq!(revoked.state(60), TokenState::Revoked);
    let found = store.find_token("h2").await.unwrap().unwrap();
    assert_eq!(found.revoked_at, Some(50), "a revoked token is still found");
    assert_eq!(
        store.find_session("s-viewer").await.unwrap(),
        None,
        "its sessions ended in the same commit"
    );
    assert!(store.find_session("s-first").await.unwrap().is_some());
    let again = store.revoke_token(viewer.id, 70).await.unwrap();
    assert_eq!(again.revoked_at, Some(50), "revoking twice changes nothing");
    let reopened = store
        .open_session(session("s-late", viewer.id, 80, 1_000), 20)
        .await;
    assert!(
        matches!(reopened, Err(StoreError::Conflict(_))),
        "{reopened:?}"
    );

    // The name of a revoked token can be given again; its hash cannot.
    let renewed = store
        .create_token(new_token("viewer", Role::Viewer, "h3"))
        .await
        .unwrap();
    assert_ne!(renewed.id, viewer.id);
    assert!(matches!(
        store
            .create_token(new_token("other", Role::Viewer, "h2"))
            .await,
        Err(StoreError::AlreadyExists(_))
    ));

    // The last admin token in force cannot be revoked; an expired one does not count.
    let expired = store
        .create_token(NewToken {
            expires_at: Some(100),
            ..new_token("old-admin", Role::Admin, "h4")
        })
        .await
        .unwrap();
    let last = store.revoke_token(first.id, 200).await;
    assert!(matches!(last, Err(StoreError::Conflict(_))), "{last:?}");
    assert_eq!(
        store.find_token("h1").await.unwrap().unwrap().revoked_at,
        None
    );
    store.revoke_token(expired.id, 200).await.unwrap();
    let second = store
        .create_token(new_token("second", Role::Admin, "h5"))
        .await
        .unwrap();
    store.revoke_token(first.id, 200).await.unwrap();
    assert!(store.revoke_token(second.id, 200).await.is_err());
    assert!(matches!(
        store.revoke_token(9_999, 200).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn token_use_is_recorded_and_never_moves_back<S: Store>(store: &Arc<S>) {
    let t = store
        .create_token(new_token("t", Role::Viewer, "h"))
        .await
        .unwrap();
    store.record_token_use(t.id, 500).await.unwrap();
    store.record_token_use(t.id, 400).await.unwrap();
    let found = store.find_token("h").await.unwrap().unwrap();
    assert_eq!(found.last_used_at, Some(500));
}

pub async fn sessions_are_capped_per_token_and_leave_other_tokens_alone<S: Store>(store: &Arc<S>) {
    let admin = store
        .create_token(new_token("admin", Role::Admin, "ha"))
        .await
        .unwrap();
    let viewer = store
        .create_token(new_token("viewer", Role::Viewer, "hv"))
        .await
        .unwrap();
    store
        .open_session(session("admin-1", admin.id, 1, 10_000), 3)
        .await
        .unwrap();
    let mut ended = 0;
    for i in 0..10 {
        ended += store
            .open_session(session(&format!("v-{i}"), viewer.id, 10 + i, 10_000), 3)
            .await
            .unwrap();
    }
    assert_eq!(ended, 7, "each sign-in beyond three ends the oldest");
    for i in 0..10 {
        let live = store
            .find_session(&format!("v-{i}"))
            .await
            .unwrap()
            .is_some();
        assert_eq!(live, i >= 7, "viewer session {i}");
    }
    let a = store.find_session("admin-1").await.unwrap().unwrap();
    assert_eq!(
        (a.token.id, a.csrf.as_str(), a.created_at, a.expires_at),
        (admin.id, "csrf-admin-1", 1, 10_000),
        "another token's session is untouched"
    );
    assert_eq!(a.token.name, "admin");

    // An expired session of the token goes at its next sign-in, whatever the cap.
    store
        .open_session(session("admin-old", admin.id, 2, 5), 3)
        .await
        .unwrap();
    let gone = store
        .open_session(session("admin-2", admin.id, 100, 10_000), 3)
        .await
        .unwrap();
    assert_eq!(gone, 1);
    assert!(store.find_session("admin-old").await.unwrap().is_none());
    assert!(store.find_session("admin-1").await.unwrap().is_some());

    assert!(store.close_session("admin-2").await.unwrap());
    assert!(!store.close_session("admin-2").await.unwrap());
    assert!(store.find_session("admin-2").await.unwrap().is_none());
}

pub async fn expired_sessions_are_swept<S: Store>(store: &Arc<S>) {
    let t = store
        .create_token(new_token("t", Role::Viewer, "h"))
        .await
        .unwrap();
    store
        .open_session(session("short", t.id, 0, 100), 20)
        .await
        .unwrap();
    store
        .open_session(session("long", t.id, 0, 1_000), 20)
        .await
        .unwrap();
    assert_eq!(store.delete_expired_sessions(99).await.unwrap(), 0);
    assert_eq!(store.delete_expired_sessions(100).await.unwrap(), 1);
    assert!(store.find_session("short").await.unwrap().is_none());
    assert!(store.find_session("long").await.unwrap().is_some());
}
