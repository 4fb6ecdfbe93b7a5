import { describe, expect, it } from 'vitest';
import { authConfiguration } from '../../src/bots/teams/auth.js';
import type { TeamsConfig } from '../../src/core/config.js';

const base: TeamsConfig = { appId: 'app-1', appPassword: 'secret', tenantId: 'tenant-guid', appType: 'MultiTenant', unauthenticated: false, tokenIssuer: undefined, loginUrl: undefined };

describe('Teams: our variables as the Agents SDK connection settings', () => {
  it('multi-tenant: client secret, no tenant (the SDK then uses botframework.com), issuer validation on', () => {
    const c = authConfiguration(base);
    expect(c).toMatchObject({ clientId: 'app-1', clientSecret: 'secret', authType: 'ClientSecret', validateIssuer: true });
    expect(c.tenantId).toBeUndefined();
    expect([...c.connections!.values()]).toEqual([expect.objectContaining({ clientId: 'app-1', validateIssuer: true })]);
    expect(c.connectionsMap).toEqual([{ serviceUrl: '*', connection: 'serviceConnection' }]);
  });

  it('single-tenant: the tenant; sovereign cloud: the authority and an extra issuer', () => {
    const c = authConfiguration({ ...base, appType: 'SingleTenant', loginUrl: 'https://login.microsoftonline.us', tokenIssuer: 'https://api.botframework.us' });
    expect(c).toMatchObject({ tenantId: 'tenant-guid', authorityEndpoint: 'https://login.microsoftonline.us', issuers: ['https://api.botframework.us'] });
  });

  it('user-assigned managed identity: no secret', () => {
    const c = authConfiguration({ ...base, appType: 'UserAssignedMSI', appPassword: undefined });
    expect(c).toMatchObject({ authType: 'UserManagedIdentity', clientId: 'app-1' });
    expect(c.clientSecret).toBeUndefined();
  });
});
