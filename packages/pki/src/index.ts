/**
 * `@leasehold/pki`: a certificate authority and the certificates Leasehold's TLS and mutual TLS use (node,
 * client and etcd member certificates; ECDSA P-256 made with @peculiar/x509 on Node's WebCrypto, no openssl
 * needed). It is production code behind `leasehold certs`, and the etcd test harness in
 * `@leasehold/devtools` issues its members' certificates with it; a package of its own so that neither the
 * server has to install the test harness nor the harness has to import the server (issue 10).
 *
 * @packageDocumentation
 */
export {
  CA_CERT_FILE,
  CA_KEY_FILE,
  type CertificateFiles,
  initCertificateAuthority,
  issueCertificateFiles,
  readCertificateAuthority,
} from './cert-files.js';
export {
  type CaOptions,
  type CertificateAndKey,
  type CertificateKind,
  createCertificateAuthority,
  type IssueOptions,
  issueCertificate,
  type Validity,
} from './issue.js';
