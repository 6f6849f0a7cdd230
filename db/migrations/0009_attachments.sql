-- Attachments: photos and documents on service orders, findings and visits. The bytes are
-- stored content-addressed (by SHA-256) in the configured storage; rows name them.

CREATE TABLE attachments (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    county_id        bigint NOT NULL REFERENCES areas (id),
    subject_type     text NOT NULL CHECK (subject_type IN ('ServiceOrder', 'Finding', 'Visit')),
    subject_id       bigint NOT NULL,
    sha256           text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    content_type     text NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp', 'application/pdf')),
    byte_size        bigint NOT NULL CHECK (byte_size > 0),
    -- a photo's thumbnail (JPEG), stored the same way; documents have none
    thumbnail_sha256 text CHECK (thumbnail_sha256 ~ '^[0-9a-f]{64}$'),
    caption          text CHECK (caption IS NULL OR btrim(caption) <> ''),
    file_name        text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    created_by       bigint REFERENCES users (id)
);
CREATE INDEX attachments_subject ON attachments (subject_type, subject_id, id);
CREATE INDEX attachments_sha256 ON attachments (sha256);
CREATE INDEX attachments_thumbnail ON attachments (thumbnail_sha256) WHERE thumbnail_sha256 IS NOT NULL;
