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
        as_of -> Text,
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
    }
}

diesel::table! {
    changeset_edits (changeset_id, entity, key) {
        changeset_id -> BigInt,
        entity -> Text,
        key -> Text,
        item -> Nullable<Text>,
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

diesel::allow_tables_to_appear_in_same_query!(
    events,
    sources,
    figures,
    claims,
    rules,
    changesets,
    changeset_edits,
    versions,
);
