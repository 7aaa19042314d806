"""A technician's commands: `kiosk selftest`, `kiosk gpio-safe`, `kiosk provision`, `kiosk status`."""

from __future__ import annotations

import argparse
import sys

from kiosk.commands.common import data_dir


def cmd_selftest(args: argparse.Namespace) -> int:
    from drivers.config import load
    from kiosk.selftest import run_cli

    return run_cli(load(args.config), sim=args.sim, as_json=args.json)


def cmd_gpio_safe(args: argparse.Namespace) -> int:
    from drivers.config import GpioConfig, load
    from drivers.gpio import force_relay_off

    gpio = load(args.config).gpio
    ok, detail = force_relay_off(gpio if gpio is not None else GpioConfig(backend="sim"))
    print(f"kiosk gpio-safe: {detail}", file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


def cmd_provision(args: argparse.Namespace) -> int:
    from kiosk.provision import run_cli

    return run_cli(
        args.bundle,
        data_dir(args.data_dir),
        config_dir=args.config_dir,
        device_name=args.device_name,
        site=args.site,
        hub=args.hub,
        sim=args.sim,
        run_selftest=not args.no_selftest,
        as_json=args.json,
        enroll_code=args.enroll_code,
        root_fingerprint=args.root_fingerprint,
    )


def cmd_status(args: argparse.Namespace) -> int:
    from kiosk.status import run_cli

    return run_cli(
        data_dir(args.data_dir),
        policy_path=args.policy,
        config_path=args.config,
        run_selftest=args.selftest,
        sim=args.sim,
        as_json=args.json,
    )


def add_parsers(sub: argparse._SubParsersAction) -> None:
    st = sub.add_parser("selftest", help="check every configured device")
    st.add_argument("--sim", action="store_true", help="use the simulated backend of every device")
    st.add_argument("--json", action="store_true")
    st.add_argument("--config", help="device configuration (TOML); default: every device simulated")
    st.set_defaults(func=cmd_selftest)

    gs = sub.add_parser("gpio-safe", help="drive the gate relay de-energised (systemd ExecStopPost)")
    gs.add_argument("--config", help="device configuration (TOML); its [gpio] section names the relay")
    gs.set_defaults(func=cmd_gpio_safe)

    pv = sub.add_parser("provision", help="set up this kiosk from an offline USB bundle and/or a hub")
    pv.add_argument(
        "--bundle",
        metavar="DIR",
        help="root.pem, bundle.jws, [status-list.ksl, list-key, policy.toml, devices.toml]",
    )
    pv.add_argument("--device-name", help="this kiosk's id (letters, digits, . _ -)")
    pv.add_argument("--site", help="the site's name")
    pv.add_argument(
        "--config-dir", default="/etc/healthcode-kiosk", help="where policy.toml and devices.toml go"
    )
    pv.add_argument("--hub", metavar="URL", help="enrol online with this hub (needs --enroll-code)")
    pv.add_argument("--enroll-code", metavar="CODE", help="the one-time code from `kiosk hub enroll-code`")
    pv.add_argument(
        "--root-fingerprint",
        metavar="HEX",
        help="SHA-256 of the hub's root key (SPKI); without it the hub's root is trusted on first use",
    )
    pv.add_argument("--sim", action="store_true", help="self-test the simulated backends")
    pv.add_argument("--no-selftest", action="store_true")
    pv.add_argument("--json", action="store_true")
    pv.add_argument("--data-dir")
    pv.set_defaults(func=cmd_provision)

    ss = sub.add_parser("status", help="versions, trust freshness, queue and devices, for a technician")
    ss.add_argument("--policy", default="/etc/healthcode-kiosk/policy.toml", help="site policy (TOML)")
    ss.add_argument(
        "--config", default="/etc/healthcode-kiosk/devices.toml", help="device configuration (TOML)"
    )
    ss.add_argument(
        "--selftest", action="store_true", help="also self-test the devices (stop the service first)"
    )
    ss.add_argument("--sim", action="store_true", help="with --selftest: the simulated backends")
    ss.add_argument("--json", action="store_true")
    ss.add_argument("--data-dir")
    ss.set_defaults(func=cmd_status)
