import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  assertLicenseFitsCluster,
  LeaseholdError,
  licenseBindingOf,
  signedLicenseOf,
  verifyLicense,
} from '@leasehold/domain';
import Type from 'typebox';
import type { AppDeps } from '../app-deps.js';
import { requestActor } from '../audit-actor.js';
import { IdParams, LicenseView, problemResponses } from '../schemas.js';
import { licenseView } from '../views.js';

export const licenseRoutes: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  const { store, clock } = deps;

  app.post(
    '/v1/licenses',
    {
      config: { scopes: ['admin'] },
      schema: {
        tags: ['licenses'],
        summary: 'Verify and install a license file (or a newer version of one)',
        body: Type.Object(
          {
            license: Type.String({
              minLength: 1,
              maxLength: 65_536,
              description: 'The license file contents',
            }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ outcome: Type.Literal('unchanged'), license: LicenseView }),
          201: Type.Object({
            outcome: Type.Union([Type.Literal('installed'), Type.Literal('upgraded')]),
            license: LicenseView,
          }),
          ...problemResponses,
        },
      },
    },
    async (request, reply) => {
      const now = clock.now();
      const verified = await verifyLicense(request.body.license, deps.licenseKeys, now);
      // A license bound to clusters installs only on one of them (issue 11): checked on the verified JWS.
      const binding = licenseBindingOf(await signedLicenseOf(verified.raw, deps.licenseKeys));
      assertLicenseFitsCluster(binding, deps.keyring.clusterId);
      const { outcome, license } = await store.installLicense(
        verified,
        now,
        requestActor(request, deps.nodeId),
      );
      deps.licenseChains?.forget(license.id);
      request.log.info({ license: license.id, version: license.version, outcome }, 'license installed');
      const view = licenseView(license, await store.seatUsage(now), now);
      if (outcome === 'unchanged') return reply.code(200).send({ outcome, license: view });
      return reply.code(201).send({ outcome, license: view });
    },
  );

  app.get(
    '/v1/licenses',
    {
      config: { scopes: ['admin', 'operator'] },
      schema: {
        tags: ['licenses'],
        summary: 'Installed licenses with seat usage',
        response: { 200: Type.Object({ licenses: Type.Array(LicenseView) }), ...problemResponses },
      },
    },
    async () => {
      const now = clock.now();
      const [licenses, usage] = await Promise.all([store.listLicenses(), store.seatUsage(now)]);
      return { licenses: licenses.map((l) => licenseView(l, usage, now)) };
    },
  );

  app.get(
    '/v1/licenses/:id',
    {
      config: { scopes: ['admin', 'operator'] },
      schema: {
        tags: ['licenses'],
        summary: 'One installed license',
        params: IdParams,
        response: { 200: LicenseView, ...problemResponses },
      },
    },
    async (request) => {
      const now = clock.now();
      const license = await store.getLicense(request.params.id);
      if (!license) throw licenseNotFound(request.params.id);
      return licenseView(license, await store.seatUsage(now), now);
    },
  );

  app.post(
    '/v1/licenses/:id/revoke',
    {
      config: { scopes: ['admin'] },
      schema: {
        tags: ['licenses'],
        summary: 'Revoke a license: no new checkouts or renewals under it, at once',
        params: IdParams,
        response: { 200: LicenseView, ...problemResponses },
      },
    },
    async (request) => {
      const now = clock.now();
      const license = await store.revokeLicense(request.params.id, now, requestActor(request, deps.nodeId));
      deps.licenseChains?.forget(license.id);
      request.log.warn({ license: license.id }, 'license revoked');
      return licenseView(license, await store.seatUsage(now), now);
    },
  );
};

function licenseNotFound(id: string): LeaseholdError {
  return new LeaseholdError('LICENSE_NOT_FOUND', `no license "${id}" is installed`);
}
