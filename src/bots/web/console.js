/* The console: plain browser JavaScript, served from this origin (the Content-Security-Policy allows nothing else). */
(function () {
  var sso = document.body.getAttribute('data-sso');
  if (sso) { var a = document.getElementById('sso'); a.hidden = false; a.textContent = 'Sign in with ' + sso; }
  if (document.body.classList.contains('anonymous')) { document.getElementById('who').hidden = true; return; }
  var match = /^\/runs\/(R-\d+)$/.exec(location.pathname);
  var feed = new AutoDevHubFeed(document.getElementById('feed'), { subscribe: match ? { run: match[1] } : { project: '*' }, runLinks: true });
  feed.connect(io, undefined, { withCredentials: true });
  var form = document.getElementById('command');
  var reply = document.getElementById('reply');
  function api(method, path, body) {
    return fetch(path, { method: method, credentials: 'same-origin', headers: body ? { 'content-type': 'application/json', 'idempotency-key': crypto.randomUUID ? crypto.randomUUID() : String(Date.now() + Math.random()) } : {}, body: body ? JSON.stringify(body) : undefined })
      .then(function (r) { return r.status === 204 ? { ok: true, body: {} } : r.json().then(function (b) { return { ok: r.ok, body: b }; }); });
  }
  function item(list, text, action, label) {
    var li = document.createElement('li');
    var span = document.createElement('span'); span.textContent = text; li.appendChild(span);
    if (action) {
      var b = document.createElement('button'); b.type = 'button'; b.className = 'secondary'; b.textContent = label;
      b.setAttribute('aria-label', label + ' ' + text); b.addEventListener('click', action); li.appendChild(b);
    }
    list.appendChild(li);
  }
  // The limit and the count, never a silent cut: the description's characters against the limit.
  var counter = document.getElementById('counter');
  var limit = Number(form.text.getAttribute('data-limit'));
  function described() { return form.text.value.replace(/^\s*story\s+/i, '').replace(/\s--(issue|pr)\b/g, '').trim().length; }
  function count() {
    // Only a story has a description to count.
    counter.hidden = !/^\s*story\b/i.test(form.text.value);
    var n = described();
    counter.textContent = n + ' / ' + limit + ' characters for a story description' + (n > limit ? ': ' + (n - limit) + ' too many, shorten it before sending' : '');
    counter.className = n > limit ? 'error' : '';
  }
  // Suggestions as you type: the verbs whose usage starts with what is typed.
  var suggestions = document.getElementById('suggestions');
  var usage = Array.prototype.map.call(document.querySelectorAll('#usage tbody code'), function (c) { return c.textContent; });
  function suggest() {
    var typed = form.text.value.trim().toLowerCase();
    suggestions.textContent = '';
    if (typed.indexOf(' ') >= 0) return;
    usage.filter(function (u) { return u.indexOf(typed) === 0; }).forEach(function (u) {
      var o = document.createElement('option'); o.value = u.split(' ')[0] + ' '; o.label = u; suggestions.appendChild(o);
    });
  }
  form.text.addEventListener('input', function () { count(); suggest(); });
  count();
  suggest();
  // The reply line follows the run it queued, with a link to the run's page.
  var following = null;
  function showReply(text, ref) {
    reply.textContent = '';
    var i = ref ? text.indexOf(ref) : -1;
    if (i < 0) { reply.textContent = text; return; }
    reply.appendChild(document.createTextNode(text.slice(0, i).replace(/\s*Follow it at\s+\S+/, '')));
    var a = document.createElement('a'); a.href = '/runs/' + ref; a.textContent = ref; reply.appendChild(a);
    reply.appendChild(document.createTextNode(text.slice(i + ref.length).replace(/\s*Follow it at\s+\S+/, '')));
  }
  feed.socket.on('run-event', function (e) {
    if (!following || e.ref !== following) return;
    showReply(e.ref + ' ' + e.status.replace('_', ' ') + (e.stage ? ' (' + e.stage + ')' : '') + ': ' + e.message, e.ref);
  });
  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    if (described() > limit) { reply.className = 'error'; reply.textContent = 'The description has ' + described() + ' characters; the limit is ' + limit + '. Shorten it and send again.'; return; }
    reply.className = ''; reply.textContent = 'Sending…';
    api('POST', '/api/v1/commands', { text: form.text.value, project: form.project.value || undefined })
      .then(function (res) {
        // Usage comes aligned in columns: shown in a fixed-width font so the columns line up.
        var text = res.body.text || res.body.message || '';
        reply.className = (res.ok ? '' : 'error') + (/\n {2}\S/.test(text) ? ' usage' : '');
        following = res.ok && res.body.run ? res.body.run.ref : null;
        showReply(res.body.text || res.body.message || 'Done', following);
        if (res.ok && res.body.run) { form.text.value = ''; count(); }
      })
      .catch(function (err) { reply.className = 'error'; reply.textContent = 'Could not reach AutoDevHub: ' + err.message; });
  });

  // A whoami link from chat: confirm, then join that chat identity to this person.
  var code = location.pathname === '/link' ? new URLSearchParams(location.search).get('code') : null;
  if (code) {
    document.body.classList.add('linking');
    var shown = null;
    var confirmButton = document.getElementById('link-confirm');
    confirmButton.disabled = true;
    // Say which identity, on which platform, before anything is linked; warn when it looks like someone else's.
    api('POST', '/api/v1/me/identities/preview', { code: code }).then(function (res) {
      var what = document.getElementById('link-what');
      if (!res.ok) { what.textContent = res.body.message; return; }
      shown = res.body.identity;
      what.textContent = 'This link joins the ' + res.body.platform + ' identity ' + res.body.identity + (res.body.displayName ? ' (' + res.body.displayName + ')' : '') + ' to your account: whatever it asks for in chat will count as you.';
      var warnings = document.getElementById('link-warnings');
      warnings.textContent = '';
      res.body.warnings.forEach(function (w) { var li = document.createElement('li'); li.textContent = w; warnings.appendChild(li); });
      confirmButton.disabled = false;
    });
    confirmButton.addEventListener('click', function () {
      api('POST', '/api/v1/me/identities', { code: code, identity: shown }).then(function (res) {
        document.getElementById('link-result').textContent = res.ok ? 'Linked ' + res.body.linked + ' (' + res.body.platform + ').' : res.body.message;
        if (res.ok) history.replaceState(null, '', '/');
      });
    });
  }

  var tokenForm = document.getElementById('new-token');
  var snippet = document.getElementById('snippet');
  var tokens = document.getElementById('tokens');
  function listTokens() {
    api('GET', '/api/v1/widget-tokens').then(function (res) {
      tokens.textContent = '';
      (res.body.tokens || []).forEach(function (t) {
        item(tokens, t.projectKey + ' · expires ' + t.expiresAt.slice(0, 10) + (t.revokedAt ? ' · revoked' : ''), t.revokedAt ? null : function () { api('DELETE', '/api/v1/widget-tokens/' + t.id).then(listTokens); }, 'Revoke');
      });
    });
  }
  api('GET', '/api/v1/projects').then(function (res) {
    var none = !(res.body.projects || []).length;
    document.getElementById('token-no-projects').hidden = !none;
    tokenForm.querySelector('button').disabled = none;
    (res.body.projects || []).forEach(function (p) {
      [form.project, tokenForm.project].forEach(function (sel) {
        var o = document.createElement('option'); o.value = p.key; o.textContent = p.key + (p.repo ? ' (' + p.repo + ')' : ''); sel.appendChild(o);
      });
    });
    listTokens();
  });
  tokenForm.addEventListener('submit', function (ev) {
    ev.preventDefault();
    api('POST', '/api/v1/widget-tokens', { project: tokenForm.project.value, origins: [tokenForm.origin.value] }).then(function (res) {
      snippet.hidden = false;
      snippet.value = res.ok ? res.body.snippet : (res.body.message || 'Could not create the token');
      listTokens();
    });
  });

  var apiForm = document.getElementById('new-api-token');
  var apiList = document.getElementById('api-token-list');
  var apiValue = document.getElementById('api-token-value');
  function listApiTokens() {
    api('GET', '/api/v1/tokens').then(function (res) {
      apiList.textContent = '';
      (res.body.tokens || []).forEach(function (t) {
        var text = t.name + ' · ' + t.scopes.join(', ') + ' · expires ' + t.expiresAt.slice(0, 10) + ' · last used ' + (t.lastUsedAt ? t.lastUsedAt.slice(0, 16).replace('T', ' ') : 'never') + (t.revokedAt ? ' · revoked' : '');
        item(apiList, text, t.revokedAt ? null : function () { api('DELETE', '/api/v1/tokens/' + t.id).then(listApiTokens); }, 'Revoke');
      });
    });
  }
  apiForm.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var scopes = Array.prototype.filter.call(apiForm.querySelectorAll('input[name=scope]'), function (c) { return c.checked; }).map(function (c) { return c.value; });
    api('POST', '/api/v1/tokens', { name: apiForm.name.value, scopes: scopes }).then(function (res) {
      apiValue.hidden = false;
      apiValue.value = res.ok ? res.body.token + '\n(shown once: copy it now)' : res.body.message;
      listApiTokens();
    });
  });
  listApiTokens();
  document.getElementById('signout-everywhere').addEventListener('click', function () {
    api('POST', '/api/v1/me/sign-out-everywhere', {}).then(function () { location.assign('/'); });
  });

  // Admins: people, identities and role grants.
  var adminReply = document.getElementById('admin-reply');
  var say = function (res) { adminReply.textContent = res.ok ? 'Done.' : res.body.message; loadAdmin(); };
  function loadAdmin() {
    api('GET', '/api/v1/people').then(function (res) {
      if (!res.ok) return;
      document.body.classList.add('is-admin');
      var tbody = document.getElementById('people'); tbody.textContent = '';
      res.body.people.forEach(function (p) {
        var tr = document.createElement('tr');
        var name = document.createElement('td'); name.textContent = p.id + (p.displayName ? ' · ' + p.displayName : ''); tr.appendChild(name);
        var ids = document.createElement('td'); var ul = document.createElement('ul');
        p.identities.forEach(function (h) { item(ul, h, function () { api('DELETE', '/api/v1/people/' + p.id + '/identities/' + encodeURIComponent(h)).then(say); }, 'Unlink'); });
        ids.appendChild(ul); tr.appendChild(ids);
        var act = document.createElement('td'); var b = document.createElement('button'); b.type = 'button'; b.className = 'secondary'; b.textContent = 'Sign out everywhere';
        b.addEventListener('click', function () { api('POST', '/api/v1/people/' + p.id + '/sign-out-everywhere', {}).then(say); });
        act.appendChild(b); tr.appendChild(act); tbody.appendChild(tr);
      });
    });
    api('GET', '/api/v1/roles/grants').then(function (res) {
      if (!res.ok) return;
      var list = document.getElementById('grants'); list.textContent = '';
      res.body.file.forEach(function (g) { item(list, g.principal + ' · ' + g.role + ' on ' + g.projectKey + ' (autodevhub.yaml)'); });
      res.body.runtime.forEach(function (g) { item(list, g.principal + ' · ' + g.role + ' on ' + g.projectKey + ' (by ' + g.createdBy + ')', function () { api('DELETE', '/api/v1/roles/grants/' + g.id).then(say); }, 'Remove'); });
    });
  }
  document.getElementById('add-identity').addEventListener('submit', function (ev) {
    ev.preventDefault();
    api('POST', '/api/v1/people/' + encodeURIComponent(ev.target.person.value) + '/identities', { handle: ev.target.handle.value }).then(say);
  });
  document.getElementById('grant').addEventListener('submit', function (ev) {
    ev.preventDefault();
    api('POST', '/api/v1/roles/grants', { principal: ev.target.principal.value, project: ev.target.project.value, role: ev.target.role.value }).then(say);
  });
  loadAdmin();

  var deliveries = document.getElementById('deliveries');
  function listDeliveries() {
    api('GET', '/api/v1/webhook-deliveries?limit=30').then(function (res) {
      deliveries.textContent = '';
      if (!res.ok) { deliveries.textContent = res.body.message || 'Could not list the deliveries'; return; }
      (res.body.deliveries || []).forEach(function (w) {
        var li = document.createElement('li');
        var label = document.createElement('span');
        label.textContent = '#' + w.id + ' ' + w.event + ' → ' + w.url + ' · ' + w.state + ' (' + w.attempts + ' attempt' + (w.attempts === 1 ? '' : 's') + (w.responseStatus ? ', HTTP ' + w.responseStatus : '') + (w.error ? ', ' + w.error : '') + ')';
        li.appendChild(label);
        var b = document.createElement('button');
        b.className = 'secondary'; b.type = 'button'; b.textContent = 'Redeliver';
        b.setAttribute('aria-label', 'Redeliver webhook delivery ' + w.id);
        b.addEventListener('click', function () { api('POST', '/api/v1/webhook-deliveries/' + w.id + '/redeliver').then(listDeliveries); });
        li.appendChild(b);
        deliveries.appendChild(li);
      });
    });
  }
  document.getElementById('webhooks').addEventListener('toggle', function (ev) { if (ev.target.open) listDeliveries(); });

  var auditForm = document.getElementById('audit-search');
  function auditQuery() {
    var q = new URLSearchParams();
    ['actor', 'action', 'project', 'since', 'until'].forEach(function (k) { if (auditForm[k].value) q.set(k, auditForm[k].value); });
    return q;
  }
  function searchAudit() {
    var q = auditQuery();
    document.getElementById('audit-csv').href = '/api/v1/audit/export?format=csv&' + q;
    document.getElementById('audit-json').href = '/api/v1/audit/export?format=json&' + q;
    api('GET', '/api/v1/audit?' + q).then(function (res) {
      var body = document.querySelector('#audit-rows tbody');
      body.textContent = '';
      if (!res.ok) { var tr = body.insertRow(); tr.insertCell().textContent = res.body.message || 'Could not search'; return; }
      res.body.entries.forEach(function (e) {
        var tr = body.insertRow();
        [e.seq, e.at.replace('T', ' ').slice(0, 19), e.actor, e.action, e.target || '', e.project || ''].forEach(function (v) { tr.insertCell().textContent = v; });
      });
    });
  }
  auditForm.addEventListener('submit', function (ev) { ev.preventDefault(); searchAudit(); });
  document.getElementById('audit').addEventListener('toggle', function (ev) { if (ev.target.open) searchAudit(); });
  document.getElementById('audit-verify').addEventListener('click', function () {
    api('GET', '/api/v1/audit/verify').then(function (res) {
      var out = document.getElementById('audit-verified');
      out.textContent = !res.ok ? (res.body.message || 'Could not verify') : res.body.ok ? 'Verified: ' + res.body.rows + ' rows' : 'BROKEN at row ' + res.body.broken.seq + ': ' + res.body.broken.reason;
    });
  });
})();
