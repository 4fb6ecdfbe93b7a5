/*
 * The live workflow feed, shared by the web console and (later) the embeddable widget.
 * Plain browser JavaScript, no build step. It keeps the last seq seen per run; after a
 * reconnect it subscribes again with those cursors, and the server sends exactly what was
 * missed. Events are also de-duplicated here by (run, seq), so a repeat can never show twice.
 */
(function (global) {
  'use strict';

  var STAGES = { story: ['queued', 'generate', 'validate', 'store', 'done'] };
  var FINAL = { succeeded: true, failed: true, cancelled: true };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === 'text') node.textContent = attrs[k];
        else if (k === 'className') node.className = attrs[k];
        else node.setAttribute(k, attrs[k]);
      });
    }
    (children || []).forEach(function (c) {
      if (c) node.appendChild(c);
    });
    return node;
  }

  function Feed(root, options) {
    this.root = root;
    this.options = options || {};
    this.runs = new Map();
    this.cursors = {};
    this.list = el('ol', { className: 'adh-runs', 'aria-label': 'Runs' });
    this.status = el('p', { className: 'adh-conn', role: 'status', 'aria-live': 'polite', text: 'Connecting…' });
    this.live = el('div', { className: 'adh-sr', 'aria-live': 'polite' });
    root.appendChild(this.status);
    root.appendChild(this.live);
    root.appendChild(this.list);
  }

  Feed.prototype.connect = function (io, socketOptions) {
    var self = this;
    var socket = io(socketOptions || {});
    this.socket = socket;
    socket.on('connect', function () {
      self.setConnection('live', 'Live');
      self.subscribe();
    });
    socket.on('disconnect', function () {
      self.setConnection('reconnecting', 'Reconnecting…');
    });
    socket.io.on('reconnect_attempt', function () {
      self.setConnection('reconnecting', 'Reconnecting…');
    });
    socket.on('connect_error', function (err) {
      var msg = String((err && err.message) || err);
      if (/unauthorized/i.test(msg)) {
        self.setConnection('error', 'Not signed in: ' + msg);
        socket.disconnect();
      } else {
        self.setConnection('reconnecting', 'Reconnecting…');
      }
    });
    socket.on('run-event', function (e) {
      self.apply(e);
    });
    return socket;
  };

  Feed.prototype.setConnection = function (state, text) {
    this.status.textContent = text;
    this.status.setAttribute('data-state', state);
    this.root.setAttribute('data-connection', state);
  };

  Feed.prototype.subscribe = function () {
    var self = this;
    var req = Object.assign({}, this.options.subscribe || { project: '*' }, { cursors: this.cursors });
    this.socket.emit('subscribe', req, function (reply) {
      if (!reply || !reply.ok) {
        self.setConnection('error', (reply && reply.error) || 'Could not subscribe');
        return;
      }
      (reply.runs || []).forEach(function (r) {
        self.upsertSummary(r);
      });
    });
  };

  Feed.prototype.upsertSummary = function (r) {
    var run = this.runs.get(r.id);
    if (!run) {
      run = { id: r.id, ref: r.ref, kind: r.kind, events: [], status: r.status, stage: r.stage, progress: r.progress };
      this.runs.set(r.id, run);
    }
    run.requestedBy = r.requestedBy;
    run.description = r.input && r.input.description;
    run.createdAt = r.createdAt;
    this.render(run);
  };

  Feed.prototype.apply = function (e) {
    var seen = this.cursors[e.runId] || 0;
    if (e.seq <= seen) return; // already shown: never twice
    this.cursors[e.runId] = e.seq;
    var run = this.runs.get(e.runId);
    if (!run) {
      run = { id: e.runId, ref: e.ref, kind: e.kind, events: [] };
      this.runs.set(e.runId, run);
    }
    run.events.push(e);
    run.status = e.status;
    run.stage = e.stage;
    run.progress = e.progress;
    run.message = e.message;
    if (e.data && e.data.gherkin) run.story = e.data;
    this.render(run);
    if (e.status !== 'running' || e.seq === 2) this.live.textContent = e.ref + ' ' + e.status + ': ' + e.message;
    if (this.options.onEvent) this.options.onEvent(e);
  };

  Feed.prototype.render = function (run) {
    var node = this.root.querySelector('[data-run-id="' + run.id + '"]');
    var fresh = el('li', { className: 'adh-run adh-' + (run.status || 'queued'), 'data-run-id': String(run.id), 'data-ref': run.ref, 'data-status': run.status || '' });
    var stages = STAGES[run.kind] || [];
    var current = stages.indexOf(run.stage);
    var timeline = el(
      'ol',
      { className: 'adh-stages', 'aria-label': 'Stages' },
      stages.map(function (s, i) {
        var state = run.status === 'succeeded' || i < current ? 'done' : i === current ? (FINAL[run.status] ? 'stopped' : 'current') : 'todo';
        return el('li', { className: 'adh-stage adh-stage-' + state, 'data-stage': s, text: s });
      }),
    );
    var bar = el('div', { className: 'adh-progress', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': String(run.progress || 0) }, [
      el('span', { style: 'width:' + (run.progress || 0) + '%' }),
    ]);
    var head = el('div', { className: 'adh-head' }, [
      el('a', { className: 'adh-ref', href: '/runs/' + run.ref, text: run.ref }),
      el('span', { className: 'adh-kind', text: run.kind }),
      el('span', { className: 'adh-badge', text: (run.status || 'queued').replace('_', ' ') }),
      run.requestedBy ? el('span', { className: 'adh-who', text: 'by ' + run.requestedBy }) : null,
    ]);
    fresh.appendChild(head);
    if (run.description) fresh.appendChild(el('p', { className: 'adh-desc', text: run.description }));
    fresh.appendChild(timeline);
    fresh.appendChild(bar);
    if (run.message) fresh.appendChild(el('p', { className: 'adh-msg', text: run.message }));
    if (run.story) {
      var facts = 'Confidence ' + Number(run.story.confidence).toFixed(2) + ' · ' + (run.story.provider === 'offline' ? 'offline generator (no AI model)' : 'Claude (' + run.story.model + ')') + (run.story.cached ? ' · from cache' : '');
      fresh.appendChild(el('div', { className: 'adh-story' }, [el('p', { className: 'adh-facts', text: facts }), el('pre', { className: 'adh-gherkin', text: run.story.gherkin })]));
    }
    if (node) node.replaceWith(fresh);
    else this.list.insertBefore(fresh, this.list.firstChild);
  };

  global.AutoDevHubFeed = Feed;
})(typeof window !== 'undefined' ? window : globalThis);
