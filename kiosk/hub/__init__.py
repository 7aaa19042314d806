"""The reference hub ("docking platform"): enrolment, signed bundles, status lists and policies, and
registration intake over HTTP (docs/hub-protocol.md, docs/hub.md). SQLite by default, PostgreSQL for a
fleet. Modules: `app` (FastAPI), `db` (storage), `admin` (operator actions), `cli` (`kiosk hub`),
`httpsig` (request signatures), `pgtemp` (a throwaway PostgreSQL for tests)."""
