// Certificates for the verification tests, made with the openssl tool:
// a root, an intermediate and a leaf for site.test (valid from now for
// 30 days), and the pins of each key.

import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

function ossl(dir, ...args) {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

function key(dir, name) {
  ossl(dir, 'genpkey', '-algorithm', 'EC', '-pkeyopt',
       'ec_paramgen_curve:P-256', '-out', `${name}.key`);
}

/** The pin of a PEM certificate: sha256/<base64 of the SPKI hash>. */
export function pinOf(pem) {
  const spki = new X509Certificate(pem).publicKey
    .export({ type: 'spki', format: 'der' });
  return 'sha256/' + createHash('sha256').update(spki).digest('base64');
}

/** The DER of a PEM certificate, in base64 (verify.chain's form). */
export function derB64(pem) {
  return new X509Certificate(pem).raw.toString('base64');
}

/**
 * @returns {{rootPem: string, interPem: string, leafPem: string,
 *            chain: string[], rootPin: string, interPin: string,
 *            leafPin: string}}
 */
export function makeChain() {
  const dir = mkdtempSync(path.join(tmpdir(), 'pw-certs-'));
  try {
    key(dir, 'root');
    ossl(dir, 'req', '-x509', '-new', '-key', 'root.key', '-out',
         'root.pem', '-subj', '/CN=IT Root', '-days', '3650', '-addext',
         'basicConstraints=critical,CA:TRUE', '-addext',
         'keyUsage=critical,keyCertSign,cRLSign');

    key(dir, 'inter');
    ossl(dir, 'req', '-new', '-key', 'inter.key', '-out', 'inter.csr',
         '-subj', '/CN=IT Inter');
    writeFileSync(path.join(dir, 'inter.ext'),
                  'basicConstraints=critical,CA:TRUE\n' +
                  'keyUsage=critical,keyCertSign\n');
    ossl(dir, 'x509', '-req', '-in', 'inter.csr', '-CA', 'root.pem',
         '-CAkey', 'root.key', '-CAcreateserial', '-days', '3650',
         '-extfile', 'inter.ext', '-out', 'inter.pem');

    key(dir, 'leaf');
    ossl(dir, 'req', '-new', '-key', 'leaf.key', '-out', 'leaf.csr',
         '-subj', '/CN=site.test');
    writeFileSync(path.join(dir, 'leaf.ext'),
                  'basicConstraints=critical,CA:FALSE\n' +
                  'keyUsage=critical,digitalSignature\n' +
                  'extendedKeyUsage=serverAuth\n' +
                  'subjectAltName=DNS:site.test,DNS:www.site.test\n');
    ossl(dir, 'x509', '-req', '-in', 'leaf.csr', '-CA', 'inter.pem',
         '-CAkey', 'inter.key', '-CAcreateserial', '-days', '30',
         '-extfile', 'leaf.ext', '-out', 'leaf.pem');

    const read = (f) => readFileSync(path.join(dir, f), 'utf8');
    const rootPem = read('root.pem');
    const interPem = read('inter.pem');
    const leafPem = read('leaf.pem');
    return {
      rootPem, interPem, leafPem,
      chain: [derB64(leafPem), derB64(interPem)],
      rootPin: pinOf(rootPem),
      interPin: pinOf(interPem),
      leafPin: pinOf(leafPem),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
