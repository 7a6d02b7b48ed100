"""One source of truth for configuration: ``STADSLAB_*`` environment variables.

Settings are read once per process (``get_settings``) and passed down explicitly;
tests build their own ``Settings`` objects instead of patching the environment.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STADSLAB_", extra="ignore")

    database_url: str = "sqlite:///./stadslab.db"
    #: External base URL (e.g. https://stadslab.example.nl) used for absolute links
    #: when the platform runs behind a reverse proxy that does not send X-Forwarded-*.
    external_base_url: str | None = None
    mqtt_url: str | None = None
    #: Largest accepted request body in bytes; larger bodies get 413.
    max_body_bytes: int = Field(default=2_000_000, ge=1024)
    #: Free JSON values (an Observation's result and parameters, a Thing's properties, ...) nest at
    #: most this many arrays/objects deep and are at most this many bytes of JSON; larger ones get
    #: 400 naming the field (``core.json_limits``). At most 128: responses wrap stored values in a
    #: few more levels and the JSON writer stops at 255.
    json_max_depth: int = Field(default=32, ge=1, le=128)
    json_max_bytes: int = Field(default=256_000, ge=64)
    page_size_default: int = Field(default=20, ge=1)
    page_size_max: int = Field(default=500, ge=1)
    #: Development only: accept writes without credentials (for conformance suites).
    anonymous_writes: bool = False
    secret_key: str = "change-me-in-production"
    log_level: str = "INFO"
    #: SensorThings API paging: default and largest ``$top``.
    sta_page_size_default: int = Field(default=100, ge=1)
    sta_page_size_max: int = Field(default=10_000, ge=1)
    #: ``$count=true``: "exact" always counts; "estimate" uses the PostgreSQL planner's
    #: row estimate for large results (see docs/sensorthings.md). SQLite always counts.
    sta_count_mode: Literal["exact", "estimate"] = "exact"
    #: Below this estimated row count an exact count is made even in "estimate" mode.
    sta_count_estimate_threshold: int = Field(default=100_000, ge=0)
    #: Single Observation POSTs arriving together are stored in one transaction (group commit,
    #: docs/sensorthings.md); each request is still answered only after its row is committed.
    sta_group_commit: bool = True
    #: Largest number of POSTs one group commit takes.
    sta_group_commit_max: int = Field(default=64, ge=1, le=1000)
    #: Writer threads per process: while one waits for its COMMIT, another gathers the next group.
    sta_group_commit_writers: int = Field(default=2, ge=1, le=16)
    #: Under load, how long a writer waits for more POSTs before it commits a group.
    sta_group_commit_linger_ms: float = Field(default=1.0, ge=0, le=50)
    #: Platform-wide Observation retention in days (phenomenon time start); unset = keep forever.
    #: PostgreSQL drops whole month partitions (docs/operations.md "Observations at scale").
    observation_retention_days: int | None = Field(default=None, ge=1)
    #: Map background tiles (XYZ template). Default: PDOK BRT-Achtergrondkaart (WMTS, EPSG:3857).
    #: Set to an empty string to show maps without background tiles.
    map_tile_url: str = "https://service.pdok.nl/brt/achtergrondkaart/wmts/v2_0/standaard/EPSG:3857/{z}/{x}/{y}.png"
    map_tile_attribution: str = "Kaartgegevens &copy; Kadaster / PDOK"
    #: Public location precision in metres (0 = exact) of Things whose register has no
    #: ``locationPrecision``: fixed sensors that process no personal data, and mobile sensors or
    #: sensors that process personal data. Non-owners get positions snapped to a grid of this size
    #: (docs/sensorthings.md, "Location precision"). A process started with other values than the
    #: public copies were made with has them recomputed (``sensorthings.public_geometry.defaults``).
    public_location_precision_m: int = Field(default=0, ge=0, le=5000)
    public_location_precision_sensitive_m: int = Field(default=100, ge=0, le=5000)
    # --- governance and security (see docs/security.md) -------------------------------
    #: Session and CSRF cookies carry the Secure flag; switch off only for local plain http.
    cookie_secure: bool = True
    session_ttl_hours: int = Field(default=12, ge=1)
    #: Failed password logins before an account is locked, and for how long.
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_minutes: int = Field(default=15, ge=1)
    #: Token buckets, per process (they multiply with the number of workers).
    login_rate_per_ip_per_minute: int = Field(default=20, ge=1)
    login_rate_per_account_per_minute: int = Field(default=10, ge=1)
    #: Unsafe requests (POST/PUT/PATCH/DELETE) per client per minute; 0 switches the limit off.
    write_rate_per_minute: int = Field(default=6000, ge=0)
    #: Extra origins (scheme://host[:port]) allowed to send cookie-authenticated writes.
    trusted_origins: list[str] = []
    #: Key of the HMAC that signs exported audit chain heads (``stadslab audit head --sign``);
    #: default: ``secret_key``. A dedicated key can be rotated without ending web sessions.
    audit_head_key: str | None = None
    #: OpenID Connect login; off unless an issuer is configured.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    #: Where the issuer sends the browser back; default: <this server>/api/v1/auth/oidc/callback.
    oidc_redirect_url: str | None = None
    oidc_scopes: str = "openid email profile"
    #: Claims that carry the platform role (member/editor/admin) and the organisation (id or name).
    oidc_role_claim: str = "stadslab_role"
    oidc_organisation_claim: str = "stadslab_organisation"
    oidc_default_role: Literal["member", "editor", "admin"] = "member"
    #: Create an account on first OIDC login (otherwise only existing emails may log in).
    oidc_create_users: bool = True
    #: MQTT (SensorThings MQTT extension, see docs/sensorthings.md "MQTT"). Topics are
    #: ``<mqtt_topic_prefix>/<STA path>``; several server workers share the create
    #: subscriptions through the MQTT 5 shared-subscription group ``mqtt_shared_group``.
    mqtt_topic_prefix: str = "v1.1"
    mqtt_shared_group: str = "stadslab"
    mqtt_qos: int = Field(default=1, ge=0, le=2)
    #: Accept Observation creates published by clients (OGC 18-088 §14.2.2).
    mqtt_accept_creates: bool = True
    #: ``$select`` topics the server serves, e.g. ``Observations?$select=result,phenomenonTime``
    #: (an external broker cannot tell the server which ones clients subscribed to).
    mqtt_select_topics: list[str] = Field(default_factory=list)
    #: Learn ``$select`` topics from Mosquitto's ``$SYS/broker/log/M/subscribe`` (needs
    #: ``log_dest topic`` and ``log_type subscribe`` in mosquitto.conf).
    mqtt_learn_select_topics: bool = False
    mqtt_learned_topics_max: int = Field(default=200, ge=0)
    #: Durable creates (docs/operations.md "Durability"): each worker keeps a persistent MQTT
    #: session (client id ``stadslab-<host>-<group>-<slot>``, the slot claimed with a lock
    #: file in ``mqtt_slot_dir``) that the broker holds this long while the worker is away, so a
    #: restarted worker gets its unacknowledged and queued messages; 0 = clean sessions.
    mqtt_session_expiry_seconds: int = Field(default=3600, ge=0)
    #: Stable name of this machine in client ids (default: the host name; set it in containers
    #: whose host name changes on every start).
    mqtt_client_id_base: str | None = None
    mqtt_slot_dir: str | None = None
    #: Worker processes of this node (``stadslab serve --workers`` sets it). The sessions of slots
    #: numbered this or higher belong to workers that no longer exist: the first worker takes
    #: each over once, stores what the broker kept for it, and ends it (no orphaned sessions).
    mqtt_workers: int | None = Field(default=None, ge=1)
    #: The server's broker account (also the dynamic-security admin when that is on).
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    #: The broker runs Mosquitto's dynamic-security plugin and Stadslab drives it: writers log in
    #: with a broker account per API token, anonymous readers see only public topics (docs/deployment.md).
    mqtt_dynamic_security: bool = False
    #: Creates go to ``<mqtt_inbound_prefix>/<broker username>/<mqtt_topic_prefix>/...``: only the
    #: server reads there, and the broker lets each writer publish under its own username only.
    mqtt_inbound_prefix: str = "stadslab-in"
    #: Ingest receipts (idempotency keys of stored MQTT creates) are kept this long; a
    #: redelivery or a publisher's retry within the window is stored once.
    ingest_receipt_retention_hours: int = Field(default=168, ge=1)

    # --- interoperability: DCAT-AP-NL catalogue (see docs/interoperability.md) ----------
    #: Publisher of the catalogue and of datasets without an owner organisation.
    catalog_publisher_name: str = "Stadslab, Smart City netwerk"
    #: IRI of the publisher (e.g. its TOOI or OIN identifier); default: <base>/api/v1/catalog#publisher.
    catalog_publisher_uri: str | None = None
    #: Contact point of every dataset (data.overheid.nl requires one that answers).
    catalog_contact_email: str = "opendata@example.org"
    #: Licence of the open data in the catalogue (a data.overheid.nl licence URI).
    catalog_license: str = "http://creativecommons.org/publicdomain/zero/1.0/deed.nl"
    #: Datasets per catalogue page (hydra:PagedCollection).
    catalog_page_size: int = Field(default=100, ge=1, le=1000)

    # --- operations (see docs/operations.md) --------------------------------------------
    #: ``json``: one JSON object per log line (production); ``console``: readable lines.
    log_format: Literal["json", "console"] = "console"
    #: ``/metrics`` is served to loopback clients only unless this is true or the
    #: scraper sends ``Authorization: Bearer <metrics_token>``.
    metrics_public: bool = False
    metrics_token: str | None = None
    #: Longest a database statement of request work may run (ms); it then stops and the request
    #: gets 503 "narrow it down" (docs/operations.md "Statement timeout"). 0 = no limit. The CLIs'
    #: maintenance (migrations, backups, imports, retention) is not bound by it.
    statement_timeout_ms: int = Field(default=30_000, ge=0)
    #: Requests in flight per worker process beyond which new ones get 503 + Retry-After; 0 = no limit.
    max_in_flight: int = Field(default=256, ge=0)
    shed_retry_after_seconds: int = Field(default=1, ge=1)
    #: Slow clients (docs/deployment.md "Slow clients"): a request line and headers must
    #: arrive within ``request_header_timeout_s`` of the first byte (or of the connection);
    #: a request may wait at most ``request_read_timeout_s`` in total for its body (then 408);
    #: a client that takes no response bytes for ``response_write_timeout_s`` is disconnected.
    request_header_timeout_s: float = Field(default=10.0, gt=0)
    request_read_timeout_s: float = Field(default=30.0, gt=0)
    response_write_timeout_s: float = Field(default=30.0, gt=0)
    #: Idle keep-alive connections are closed after this (longer than nginx's upstream keepalive_timeout).
    keep_alive_timeout_s: float = Field(default=15.0, gt=0)
    #: Open connections plus running requests per worker beyond which uvicorn answers 503; 0 = no limit.
    max_connections: int = Field(default=1024, ge=0)
    #: Seconds uvicorn's supervisor (``--workers N``) waits for a worker to answer its health
    #: ping before killing and replacing it (uvicorn's default, 5, restarts healthy workers in a
    #: loop on a loaded host: a worker being spawned cannot answer yet).
    worker_healthcheck_timeout_s: int = Field(default=30, ge=1)
    #: Freeze what exists once the app has started (``gc.freeze()``): the ~240,000 long-lived
    #: objects of the imported libraries are then left out of every full garbage collection,
    #: whose pauses otherwise cost a page 150-250 ms now and then (benchmarks/RESULTS.md).
    #: Off in the test suite, which starts hundreds of apps in one process.
    gc_freeze_at_start: bool = True

    # --- e-mail (loket notifications through the outbox; see docs/governance.md) ---------
    #: SMTP server the outbox worker sends through; None: messages wait in the outbox.
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "stadslab@localhost"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    #: Seconds between rounds of the outbox worker.
    outbox_interval_seconds: float = Field(default=15.0, gt=0)

    # --- several nodes, one system (see docs/deployment.md "Several nodes") -------------
    #: Seconds between two runs of the hub's periodic work (partitions, retention, receipt
    #: pruning); one process of all nodes runs it (``core.leader``); 0 switches it off.
    maintenance_interval_seconds: int = Field(default=3600, ge=0)
    #: Seconds between two attempts of a process to take over periodic work from a dead leader.
    leader_poll_seconds: float = Field(default=5.0, gt=0)
    #: Directory the leader writes the (signed) audit chain head to every
    #: ``audit_head_export_interval_seconds``, as ``stadslab audit head --sign`` would; unset = off.
    audit_head_export_dir: str | None = None
    audit_head_export_interval_seconds: int = Field(default=3600, ge=1)
    #: Hot standbys for anonymous reads (comma-separated PostgreSQL URLs, docs/deployment.md
    #: "Read replicas"). Writes, and reads of a caller who wrote recently, go to the primary.
    database_read_urls: str = ""
    #: A standby further behind the primary than this many bytes of WAL serves no reads.
    database_read_max_lag_bytes: int = Field(default=16 * 1024 * 1024, ge=0)
    #: Seconds between two measurements of each standby's replay position.
    database_read_check_seconds: float = Field(default=1.0, gt=0)
    #: After a write, the caller's reads stay on the primary this long (read-your-writes).
    database_read_sticky_seconds: int = Field(default=10, ge=0)

    # --- federation between regional nodes (see docs/interoperability.md "Federation") ---
    #: This node's name, attributed to local items in network-wide views.
    node_name: str = "stadslab"
    #: Seconds between background harvests of the peers; 0 switches the loop off.
    federation_interval_seconds: int = Field(default=0, ge=0)
    #: Largest page (bytes) accepted from a peer; larger answers are refused.
    federation_max_page_bytes: int = Field(default=5_000_000, ge=1024)
    #: Connect/read timeout (seconds) per request to a peer.
    federation_timeout_seconds: float = Field(default=10.0, gt=0)
    #: Attempts per request and the capped exponential backoff between them.
    federation_retries: int = Field(default=3, ge=1, le=10)
    federation_backoff_seconds: float = Field(default=0.5, ge=0)
    federation_backoff_max_seconds: float = Field(default=8.0, ge=0)
    #: A failing peer is skipped by scheduled harvests for min(interval * 2^failures, this).
    federation_peer_backoff_max_seconds: int = Field(default=3600, ge=0)
    #: Incremental harvests ask for changes since the high-water mark minus this margin
    #: (peer clocks and commit order are not perfectly monotonic).
    federation_skew_margin_seconds: int = Field(default=300, ge=0)
    #: Items of a peer whose last successful harvest is older than this are shown as stale.
    federation_stale_after_seconds: int = Field(default=2 * 86400, ge=60)


    @property
    def read_urls(self) -> list[str]:
        """``database_read_urls`` split at commas and whitespace."""
        return [u for u in self.database_read_urls.replace(",", " ").split() if u]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
