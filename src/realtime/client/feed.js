/*
 * The live workflow feed, shared by the web console and the embeddable widget. Plain browser
 * JavaScript, no build step. It keeps the last seq seen per run; after a reconnect it subscribes
 * again with those cursors and the server sends exactly what was missed. Events are also
 * de-duplicated here by (run, seq); `data-duplicates` on the root counts any that arrive twice,
 * so tests can prove the server never sends one.
 */
(function (global) {
  'use strict';

  var STAGES = {
    story: ['queued', 'generate', 'validate', 'store', 'done'],
    deploy: ['resolve', 'gate', 'approval', 'deploy', 'verify'],
    docs: ['compare', 'select', 'generate', 'write', 'pull_request'],
  };
  var FINAL = { succeeded: true, failed: true, cancelled: true, needs_input: true };
  var LINK_LABELS = { thread: 'Chat thread', run: 'Details', pullRequest: 'Pull request', deployment: 'Deployment', issue: 'Issue' };

  function el(doc, tag, attrs, children) {
    var node = doc.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (attrs[k] === undefined || attrs[k] === null) return;
        if (k === 'text') node.textContent = attrs[k];
        else if (k === 'className') node.className = attrs[k];
        // Through the CSSOM: a style attribute would break under a Content-Security-Policy without 'unsafe-inline'.
        else if (k === 'style') node.style.cssText = attrs[k];
        else node.setAttribute(k, attrs[k]);
      });
    }
    (children || []).forEach(function (c) {
      if (c) node.appendChild(c);
    });
    return node;
  }

  /**
   * root: the element to render into (inside a shadow root for the widget).
   * options.subscribe: { project } | { run } | { project: '*' }
   * options.runLinks: link run references to the console (console only)
   * options.label: accessible name of the list
   */
  function Feed(root, options) {
    this.root = root;
    this.doc = root.ownerDocument || document;
    this.options = options || {};
    this.runs = new Map();
    this.cursors = {};
    this.received = 0;
    this.duplicates = 0;
    var d = this.doc;
    this.container = el(d, 'section', { className: 'adh-feed', 'aria-label': this.options.label || 'AutoDevHub runs' });
    this.status = el(d, 'p', { className: 'adh-conn', 'data-state': 'connecting', text: 'Connecting…' });
    this.live = el(d, 'div', { className: 'adh-sr', role: 'status', 'aria-live': 'polite' });
    this.empty = el(d, 'p', { className: 'adh-empty', text: 'No runs yet.' });
    this.list = el(d, 'ol', { className: 'adh-runs', 'aria-label': 'Runs' });
    [this.status, this.live, this.empty, this.list].forEach(this.container.appendChild, this.container);
    root.appendChild(this.container);
  }

  Feed.prototype.connect = function (io, url, socketOptions) {
    var self = this;
    var socket = url ? io(url, socketOptions || {}) : io(socketOptions || {});
    this.socket = socket;
    socket.on('connect', function () {
      self.setConnection('live', 'Live');
      self.subscribe();
    });
    socket.on('disconnect', function (reason) {
      if (self.revoked) return;
      if (reason === 'io client disconnect') return self.setConnection('offline', 'Disconnected');
      self.setConnection('reconnecting', 'Reconnecting…');
      // Socket.IO does not retry after a server-side disconnect; a feed should, unless revoked.
      if (reason === 'io server disconnect') setTimeout(function () { socket.connect(); }, 1000);
    });
    socket.on('connect_error', function (err) {
      var msg = String((err && err.message) || err);
      if (/^unauthorized|^forbidden/i.test(msg)) {
        // A refused credential does not get better by retrying.
        self.setConnection('error', words(msg));
        socket.disconnect();
      } else {
        self.setConnection('reconnecting', 'Reconnecting…');
      }
    });
    socket.on('revoked', function () {
      self.revoked = true;
      self.setConnection('error', 'AutoDevHub cannot show this feed: its widget token was revoked. Ask whoever embedded it for a new one.');
      socket.disconnect();
    });
    socket.on('run-event', function (e) {
      self.apply(e);
    });
    return socket;
  };

  /** A refusal in words a reader can act on, not the server's code ("unauthorized: …"). */
  function words(msg) {
    var reason = msg.replace(/^(unauthorized|forbidden):\s*/i, '');
    if (/token/i.test(reason)) return 'AutoDevHub cannot show this feed: ' + reason + '. Ask whoever embedded it for a new widget token.';
    return 'AutoDevHub cannot show this feed: ' + reason + '.';
  }

  Feed.prototype.setConnection = function (state, text) {
    // Under an error, "No runs yet." would mislead: there may well be runs.
    if (state === 'error') this.empty.hidden = true;
    this.status.textContent = text;
    this.status.setAttribute('data-state', state);
    this.container.setAttribute('data-connection', state);
    if (state === 'error' || state === 'reconnecting') this.live.textContent = text;
  };

  Feed.prototype.subscribe = function () {
    var self = this;
    var req = Object.assign({}, this.options.subscribe || { project: '*' }, { cursors: this.cursors });
    this.socket.emit('subscribe', req, function (reply) {
      if (!reply || !reply.ok) {
        self.setConnection('error', words((reply && reply.error) || 'could not subscribe'));
        return;
      }
      (reply.runs || []).forEach(function (r) {
        self.upsertSummary(r);
      });
    });
  };

  Feed.prototype.runFor = function (id, ref, kind) {
    var run = this.runs.get(id);
    if (!run) {
      run = { id: id, ref: ref, kind: kind, links: {} };
      this.runs.set(id, run);
    }
    return run;
  };

  Feed.prototype.upsertSummary = function (r) {
    var run = this.runFor(r.id, r.ref, r.kind);
    run.requestedBy = r.requestedBy;
    run.description = r.input && r.input.description;
    run.links = Object.assign({}, run.links, r.links || {});
    if (!run.status) {
      run.status = r.status;
      run.stage = r.stage;
      run.progress = r.progress;
    }
    this.render(run);
  };

  Feed.prototype.apply = function (e) {
    this.received++;
    this.container.setAttribute('data-received', String(this.received));
    var seen = this.cursors[e.runId] || 0;
    if (e.seq <= seen) {
      this.duplicates++;
      this.container.setAttribute('data-duplicates', String(this.duplicates));
      return;
    }
    this.cursors[e.runId] = e.seq;
    var run = this.runFor(e.runId, e.ref, e.kind);
    run.status = e.status;
    run.stage = e.stage;
    run.progress = e.progress;
    run.message = e.message;
    var data = e.data || {};
    if (data.requestedBy) run.requestedBy = data.requestedBy;
    if (data.description) run.description = data.description;
    if (data.links) run.links = Object.assign({}, run.links, data.links);
    if (data.approvals) run.approvals = data.approvals;
    if (data.gherkin) run.story = data;
    if (data.needsInput) run.needsInput = data.needsInput;
    if (data.changes) run.changes = data.changes;
    if (data.verification) run.verification = data.verification;
    this.render(run);
    if (e.seq === 1 || FINAL[e.status] || e.status === 'waiting_approval') {
      this.live.textContent = e.ref + ' ' + e.kind + ' ' + e.status.replace('_', ' ') + ': ' + e.message;
    }
    if (this.options.onEvent) this.options.onEvent(e);
  };

  Feed.prototype.render = function (run) {
    var d = this.doc;
    var node = this.list.querySelector('[data-run-id="' + run.id + '"]');
    var status = run.status || 'queued';
    var fresh = el(d, 'li', { className: 'adh-run adh-' + status, 'data-run-id': String(run.id), 'data-ref': run.ref, 'data-status': status, 'data-seq': String(this.cursors[run.id] || 0) });
    var stages = STAGES[run.kind] || [];
    var current = stages.indexOf(run.stage === 'queued' && run.kind !== 'story' ? stages[0] : run.stage);
    var ref = this.options.runLinks ? el(d, 'a', { className: 'adh-ref', href: '/runs/' + run.ref, text: run.ref }) : el(d, 'span', { className: 'adh-ref', text: run.ref });
    fresh.appendChild(
      el(d, 'div', { className: 'adh-head' }, [
        ref,
        el(d, 'span', { className: 'adh-kind', text: run.kind }),
        el(d, 'span', { className: 'adh-badge', text: status.replace('_', ' ') }),
        run.requestedBy ? el(d, 'span', { className: 'adh-who', text: 'asked by ' + run.requestedBy }) : null,
      ]),
    );
    if (run.description) fresh.appendChild(el(d, 'p', { className: 'adh-desc', text: run.description }));
    if (stages.length) {
      fresh.appendChild(
        el(
          d,
          'ol',
          { className: 'adh-stages', 'aria-label': 'Stages' },
          stages.map(function (s, i) {
            var state = status === 'succeeded' || i < current ? 'done' : i === current ? (FINAL[status] ? 'stopped' : 'current') : 'todo';
            return el(d, 'li', { className: 'adh-stage adh-stage-' + state, 'data-stage': s, 'aria-current': state === 'current' ? 'step' : null, text: s });
          }),
        ),
      );
    }
    fresh.appendChild(
      el(d, 'div', { className: 'adh-progress', role: 'progressbar', 'aria-label': run.ref + ' progress', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': String(run.progress || 0) }, [
        el(d, 'span', { style: 'width:' + (run.progress || 0) + '%' }),
      ]),
    );
    if (run.message) fresh.appendChild(el(d, 'p', { className: 'adh-msg', text: run.message }));
    if (run.approvals && run.approvals.pending && run.approvals.pending.length) {
      fresh.appendChild(el(d, 'p', { className: 'adh-approvals', text: 'Waiting for approval from ' + run.approvals.pending.join(', ') }));
    }
    var links = Object.keys(run.links || {}).filter(function (k) {
      return run.links[k];
    });
    if (links.length) {
      fresh.appendChild(
        el(
          d,
          'p',
          { className: 'adh-links' },
          links.map(function (k) {
            return el(d, 'a', { href: run.links[k], target: '_blank', rel: 'noopener noreferrer', text: LINK_LABELS[k] || k });
          }),
        ),
      );
    }
    if (run.changes) fresh.appendChild(this.renderChanges(run.changes));
    if (run.verification) {
      fresh.appendChild(
        el(d, 'ul', { className: 'adh-verification', 'aria-label': 'Smoke check' }, run.verification.checks.map(function (c) {
          return el(d, 'li', { className: c.ok ? 'adh-check-ok' : 'adh-check-failed', text: (c.ok ? '✓ ' : '✗ ') + c.detail });
        })),
      );
    }
    if (run.needsInput) {
      fresh.appendChild(
        el(d, 'div', { className: 'adh-needs-input', role: 'note' }, [
          el(d, 'p', { className: 'adh-needs-missing', text: 'No story yet. ' + run.needsInput.missing }),
          el(d, 'p', { className: 'adh-needs-example', text: run.needsInput.example }),
        ]),
      );
    }
    if (run.story) {
      var facts = 'Confidence ' + Number(run.story.confidence).toFixed(2) + ' · ' + (run.story.provider === 'offline' ? 'offline generator (no AI model)' : (run.story.provider === 'claude' ? 'Claude' : 'OpenAI-compatible') + ' (' + run.story.model + ')') + (run.story.cached ? ' · from cache' : '');
      var usage = run.story.usage || {};
      if (usage.inputTokens != null) {
        facts += ' · ' + usage.inputTokens + ' in / ' + usage.outputTokens + ' out tokens';
        if (usage.cacheReadTokens) facts += ' (' + usage.cacheReadTokens + ' from cache)';
      }
      if (usage.latencyMs != null && run.story.provider !== 'offline') facts += ' · ' + (usage.latencyMs / 1000).toFixed(1) + ' s';
      if (usage.costUsd != null) facts += ' · $' + Number(usage.costUsd).toFixed(4);
      var questions = run.story.openQuestions || [];
      fresh.appendChild(
        el(d, 'div', { className: 'adh-story' }, [
          el(d, 'p', { className: 'adh-facts', text: facts }),
          el(d, 'pre', { className: 'adh-gherkin', tabindex: '0', 'aria-label': 'Gherkin story', text: run.story.gherkin }),
          questions.length ? el(d, 'p', { className: 'adh-questions-title', text: 'Open questions' }) : null,
          questions.length
            ? el(d, 'ul', { className: 'adh-questions', 'aria-label': 'Open questions' }, questions.map(function (q) { return el(d, 'li', { text: q }); }))
            : null,
        ]),
      );
    }
    if (node) node.replaceWith(fresh);
    else this.list.insertBefore(fresh, this.list.firstChild);
    this.empty.hidden = this.runs.size > 0;
  };

  /** What a deploy changes, as the approval cards in chat show it. */
  Feed.prototype.renderChanges = function (c) {
    var d = this.doc;
    var short = function (sha) { return String(sha || '').slice(0, 7); };
    var head = c.direction === 'first' ? 'First deploy here: ' + short(c.headSha)
      : c.direction === 'same' ? 'Already deployed here: ' + short(c.headSha)
      : (c.direction === 'rollback' ? 'Takes out ' : 'Brings ') + c.commitCount + ' commit' + (c.commitCount === 1 ? '' : 's') + (c.authors.length ? ' by ' + c.authors.join(', ') : '') + ' · ' + c.fileCount + ' file' + (c.fileCount === 1 ? '' : 's');
    return el(d, 'div', { className: 'adh-changes', role: 'group', 'aria-label': 'What changes' }, [
      el(d, 'p', { className: 'adh-changes-head', text: 'What changes: ' + head }),
      c.summary ? el(d, 'p', { className: 'adh-changes-summary', text: c.summary }) : null,
      c.commits.length ? el(d, 'ul', { className: 'adh-commits' }, c.commits.slice(0, 8).map(function (x) { return el(d, 'li', { text: short(x.sha) + ' ' + x.subject + ' (' + x.author + ')' }); })) : null,
      c.risks.length ? el(d, 'ul', { className: 'adh-risks', 'aria-label': 'Risk notes' }, c.risks.map(function (r) { return el(d, 'li', { text: '⚠ ' + r.note + ': ' + r.files.slice(0, 3).join(', ') }); })) : null,
      el(d, 'p', { className: 'adh-changes-by', text: 'Summary by the ' + c.generator }),
    ]);
  };

  global.AutoDevHubFeed = Feed;
})(typeof window !== 'undefined' ? window : globalThis);
