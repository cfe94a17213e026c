//! The tables, as diesel sees them. The migrations in `migrations/sqlite` and
//! `migrations/postgres` create the same tables on each backend.

diesel::table! {
    vigil_lock (id) {
        id -> Integer,
        generation -> BigInt,
    }
}

diesel::table! {
    events (slug) {
        slug -> Text,
        title -> Text,
        location -> Text,
        started_on -> Text,
        ended_on -> Text,
        timezone -> Text,
        summary -> Text,
        approximation -> Nullable<BigInt>,
    }
}

diesel::table! {
    sources (event, key) {
        event -> Text,
        key -> Text,
        title -> Text,
        author -> Text,
        publisher -> Text,
        kind -> Text,
        published_on -> Nullable<Text>,
        url -> Text,
        notes -> Text,
    }
}

diesel::table! {
    figures (event, key) {
        event -> Text,
        key -> Text,
        label -> Text,
        unit -> Text,
        parent -> Nullable<Text>,
        breakdown -> Nullable<Text>,
        position -> BigInt,
        low -> Nullable<BigInt>,
        best -> Nullable<BigInt>,
        high -> Nullable<BigInt>,
        status -> Text,
        notes -> Text,
    }
}

diesel::table! {
    claims (event, id) {
        event -> Text,
        id -> Text,
        figure -> Text,
        source -> Text,
        low -> Nullable<BigInt>,
        best -> Nullable<BigInt>,
        high -> Nullable<BigInt>,
        qualifier -> Nullable<Text>,
        as_of -> Nullable<Text>,
        rank -> Text,
        reason -> Nullable<Text>,
        locator -> Text,
        quote -> Text,
        note -> Text,
    }
}

diesel::table! {
    rules (event, id) {
        event -> Text,
        id -> Text,
        expression -> Text,
        severity -> Text,
        note -> Text,
    }
}

diesel::table! {
    changesets (id) {
        id -> BigInt,
        event -> Text,
        base_version -> BigInt,
        author -> Text,
        reason -> Text,
        state -> Text,
        reviewer -> Nullable<Text>,
        comment -> Nullable<Text>,
        created_at -> Text,
        updated_at -> Text,
        revision -> BigInt,
        writers -> Text,
    }
}

diesel::table! {
    changeset_edits (changeset_id, entity, key) {
        changeset_id -> BigInt,
        entity -> Text,
        key -> Text,
        item -> Nullable<Text>,
        seen -> Text,
        edited_by -> Text,
        edited_at -> Text,
    }
}

diesel::table! {
    changeset_comments (id) {
        id -> BigInt,
        changeset_id -> BigInt,
        author -> Text,
        at -> Text,
        action -> Text,
        body -> Text,
    }
}

diesel::table! {
    versions (event, number) {
        event -> Text,
        number -> BigInt,
        published_at -> Text,
        changeset_id -> Nullable<BigInt>,
        sha256 -> Text,
        document -> Text,
    }
}

diesel::table! {
    users (name) {
        name -> Text,
        password_hash -> Text,
        roles -> Text,
        disabled -> Bool,
        created_at -> Text,
        updated_at -> Text,
    }
}

diesel::table! {
    sessions (id_hash) {
        id_hash -> Text,
        user_name -> Text,
        created_at -> Text,
        last_seen_at -> Text,
    }
}

diesel::table! {
    login_attempts (scope, key) {
        scope -> Text,
        key -> Text,
        count -> BigInt,
        window_start -> Text,
        locked_until -> Nullable<Text>,
        expires_at -> Text,
    }
}

diesel::table! {
    api_tokens (name) {
        name -> Text,
        token_hash -> Text,
        roles -> Text,
        created_by -> Text,
        created_at -> Text,
        revoked_at -> Nullable<Text>,
        last_used_at -> Nullable<Text>,
        owner -> Nullable<Text>,
    }
}

diesel::table! {
    audit_entries (seq) {
        seq -> BigInt,
        at -> Text,
        actor -> Text,
        action -> Text,
        entity -> Text,
        entity_id -> Text,
        before -> Nullable<Text>,
        after -> Nullable<Text>,
        reason -> Nullable<Text>,
        summary -> Nullable<Text>,
        request_id -> Nullable<Text>,
        client -> Nullable<Text>,
        leaf -> Text,
        client_request_id -> Nullable<Text>,
    }
}

diesel::table! {
    audit_checkpoints (size) {
        size -> BigInt,
        root -> Text,
        at -> Text,
        note -> Text,
    }
}

diesel::table! {
    audit_nodes (level, idx) {
        level -> Integer,
        idx -> BigInt,
        hash -> Binary,
    }
}

diesel::table! {
    audit_verifications (id) {
        id -> BigInt,
        size -> BigInt,
        root -> Text,
        verified_at -> Text,
        full_check -> Bool,
        problems -> Text,
    }
}

diesel::joinable!(sessions -> users (user_name));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    sessions,
    login_attempts,
    api_tokens,
    audit_entries,
    audit_checkpoints,
    audit_nodes,
    audit_verifications,
    events,
    sources,
    figures,
    claims,
    rules,
    changesets,
    changeset_edits,
    changeset_comments,
    versions,
);
