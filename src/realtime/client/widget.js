/*
 * <script src="https://autodevhub.example.com/widget.js" data-project="web" data-token="…" async></script>
 *
 * Mounts the live feed of one project in a Shadow DOM panel right after the script tag (or in the
 * element named by data-target). The host page's CSS does not reach in, ours does not leak out.
 * Served by GET /widget.js after the Socket.IO client and the feed component; the CSS placeholder is
 * replaced by the feed's stylesheet when the script is built.
 */
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script) return;
  var io = window.__adhIo;
  var Feed = window.AutoDevHubFeed;
  var base = new URL(script.src, location.href).origin;
  var project = script.getAttribute('data-project');
  var token = script.getAttribute('data-token');

  var host = document.createElement('div');
  host.className = 'autodevhub-widget';
  var target = script.getAttribute('data-target') && document.getElementById(script.getAttribute('data-target'));
  if (target) target.appendChild(host);
  else script.parentNode.insertBefore(host, script.nextSibling);
  var shadow = host.attachShadow({ mode: 'open' });
  var style = document.createElement('style');
  style.textContent = ':host { display: block; max-width: 100%; } ' + __ADH_CSS__;
  shadow.appendChild(style);

  var feed = new Feed(shadow, { subscribe: { project: project }, label: 'AutoDevHub runs of ' + (project || 'a project') });
  host.autodevhub = feed;
  if (!project || !token) {
    feed.setConnection('error', 'AutoDevHub: the script tag needs data-project and data-token');
    return;
  }
  feed.connect(io, base, { auth: { token: token }, transports: ['websocket', 'polling'], withCredentials: false });
})();
