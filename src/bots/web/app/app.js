/* The web app's one script: plain browser JavaScript, no build step (see docs/DESIGN.md, "Web app"). */
(function () {
  var root = document.documentElement;
  var saved = localStorage.getItem('adh-theme');
  if (saved) root.setAttribute('data-theme', saved);

  function ready(fn) { if (document.readyState !== 'loading') fn(); else document.addEventListener('DOMContentLoaded', fn); }

  function api(method, path, body) {
    return fetch(path, {
      method: method,
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (b) { return { ok: r.ok, status: r.status, body: b }; });
    }, function (err) { return { ok: false, status: 0, body: { message: 'Could not reach AutoDevHub (' + err.message + '). Check your connection and try again.' } }; });
  }

  function relative(iso) {
    var s = Math.round((Date.parse(iso) - Date.now()) / 1000), a = Math.abs(s), n, unit;
    if (a < 45) return 'just now';
    if (a < 3600) { n = Math.round(a / 60); unit = 'min'; } else if (a < 86400) { n = Math.round(a / 3600); unit = 'h'; } else { n = Math.round(a / 86400); unit = 'd'; }
    return s < 0 ? n + ' ' + unit + ' ago' : 'in ' + n + ' ' + unit;
  }
  function refreshTimes() {
    document.querySelectorAll('time[data-relative]').forEach(function (t) {
      var rel = t.querySelector('.rel');
      if (rel) rel.textContent = relative(t.getAttribute('datetime'));
    });
  }

  function scrollCues() {
    document.querySelectorAll('.gherkin-box').forEach(function (box) {
      var area = box.querySelector('.scroll-x');
      var wide = area.scrollWidth > area.clientWidth + 1;
      box.classList.toggle('overflowing', wide);
      box.querySelector('.scroll-cue').hidden = !wide;
    });
  }

  function postButtons() {
    document.querySelectorAll('[data-post]').forEach(function (b) {
      b.addEventListener('click', function () {
        var out = b.parentNode.querySelector('.action-result');
        b.disabled = true;
        out.textContent = 'Working…';
        var method = b.getAttribute('data-method') || 'POST';
        api(method, b.getAttribute('data-post')).then(function (res) {
          b.disabled = false;
          out.className = 'action-result ' + (res.ok ? 'ok' : 'error');
          // A removal changes the table it sits in, an acceptance the story's state: show the page
          // as it now is rather than a message beside a badge that still says the old state.
          if (res.ok && (method === 'DELETE' || b.hasAttribute('data-refresh'))) return location.reload();
          out.textContent = res.ok ? b.getAttribute('data-done') + (res.body.run ? ' (' + res.body.run.ref + ')' : '') : res.body.message || 'That did not work.';
          if (res.ok && res.body.run) {
            var a = document.createElement('a'); a.href = '/runs/' + res.body.run.ref; a.textContent = ' Follow ' + res.body.run.ref;
            out.appendChild(a);
          }
        });
      });
    });
    document.querySelectorAll('[data-copy]').forEach(function (b) {
      b.addEventListener('click', function () {
        var text = document.getElementById(b.getAttribute('data-copy')).textContent;
        var out = b.parentNode.querySelector('.action-result');
        var done = function () { out.className = 'action-result ok'; out.textContent = 'Copied to the clipboard.'; };
        if (navigator.clipboard) navigator.clipboard.writeText(text).then(done, function () { out.textContent = 'Your browser did not allow copying: select the text and copy it.'; });
      });
    });
  }

  /** Approve and reject: the same verb as chat; a refusal is shown in its own words. */
  function decisions() {
    document.querySelectorAll('form.decide').forEach(function (form) {
      form.addEventListener('submit', function (ev) {
        ev.preventDefault();
        var decision = (ev.submitter && ev.submitter.value) || 'approve';
        var out = form.querySelector('.action-result');
        out.className = 'action-result';
        out.textContent = 'Sending…';
        var reason = form.reason.value.trim();
        api('POST', '/api/v1/runs/' + form.getAttribute('data-ref') + '/' + decision, reason ? { reason: reason } : {}).then(function (res) {
          out.className = 'action-result ' + (res.ok ? 'ok' : 'error');
          if (!res.ok) { out.textContent = res.body.message || 'That did not work.'; return; }
          var ref = res.body.run.ref;
          out.textContent = res.body.outcome === 'approved' ? 'Approved: ' + ref + ' goes ahead.' : res.body.outcome === 'rejected' ? 'Rejected: ' + ref + ' will not deploy.' : 'Your approval is recorded; ' + ref + ' needs more before it goes ahead.';
        });
      });
    });
  }

  /** A run page follows its run: each new event re-renders the run's part of the page from the server. */
  function liveRun() {
    var live = document.getElementById('run-live');
    if (!live || live.getAttribute('data-final') === 'true') return;
    var s = document.createElement('script');
    s.src = '/socket.io/socket.io.min.js';
    s.onload = function () {
      var socket = window.io({ withCredentials: true });
      var ref = live.getAttribute('data-ref');
      var pending = false;
      function reload() {
        if (pending) return;
        pending = true;
        fetch(location.pathname, { credentials: 'same-origin' }).then(function (r) { return r.text(); }).then(function (html) {
          pending = false;
          var next = new DOMParser().parseFromString(html, 'text/html').getElementById('run-live');
          if (!next) return;
          live.replaceWith(next);
          live = next;
          if (live.getAttribute('data-final') === 'true') socket.disconnect();
        }, function () { pending = false; });
      }
      socket.on('connect', function () {
        var cursors = {}; cursors[live.getAttribute('data-run-id')] = Number(live.getAttribute('data-seq'));
        socket.emit('subscribe', { run: ref, cursors: cursors });
      });
      socket.on('run-event', function (e) {
        if (e.ref === ref && e.seq > Number(live.getAttribute('data-seq'))) reload();
      });
    };
    document.body.appendChild(s);
  }

  ready(function () {
    var theme = document.getElementById('theme');
    if (theme) theme.addEventListener('click', function () {
      var dark = root.getAttribute('data-theme') ? root.getAttribute('data-theme') === 'dark' : matchMedia('(prefers-color-scheme: dark)').matches;
      var next = dark ? 'light' : 'dark';
      root.setAttribute('data-theme', next);
      localStorage.setItem('adh-theme', next);
    });
    setInterval(refreshTimes, 30000);
    scrollCues();
    addEventListener('resize', scrollCues);
    postButtons();
    decisions();
    liveRun();
  });
})();
