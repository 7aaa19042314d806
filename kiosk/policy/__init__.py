"""Site policy: rules as data, CertLogic for DCC rules, and the decision function."""
