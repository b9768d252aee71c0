// host console: live updates over server-sent events. No framework, no
// inline script (the page's Content-Security-Policy forbids it). Text from
// the server is already escaped HTML; nothing here builds markup from data.
(function () {
  'use strict';

  function times() {
    document.querySelectorAll('td.when[data-ms]').forEach(function (td) {
      var ms = Number(td.dataset.ms);
      if (ms > 0) td.textContent = new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + 'Z';
    });
  }

  var table = document.querySelector('table[data-live="runs"]');
  var facts = document.getElementById('facts');
  times();
  if (!table && !facts) return;

  var seen = null;

  function refresh() {
    var filter = table.dataset.filter;
    var url = '/fragment/runs' + (filter ? '?status=' + encodeURIComponent(filter) : '');
    return fetch(url, { credentials: 'same-origin' }).then(function (r) {
      if (!r.ok) return;
      return r.json().then(function (j) {
        document.getElementById('runs').innerHTML = j.rows;
        document.title = j.title;
        var w = document.getElementById('waiting');
        w.textContent = j.waiting + ' waiting for approval';
        w.dataset.waiting = String(j.waiting);
        times();
      });
    });
  }

  var source = new EventSource('/events');
  source.addEventListener('runs', function (ev) {
    var data = JSON.parse(ev.data);
    var changed = seen !== null && data.version !== seen;
    seen = data.version;
    if (table) {
      refresh();
    } else if (changed && !document.getElementById('changed')) {
      var p = document.createElement('p');
      p.id = 'changed';
      p.className = 'notice';
      p.textContent = 'Runs changed since this page loaded (' + data.waiting + ' waiting): reload to see where this one stands.';
      document.querySelector('main').prepend(p);
    }
  });
  // The server closes the stream when the session ends (log out, or past
  // --session-ttl); the browser's reconnect is then refused and it gives up.
  source.addEventListener('error', function () {
    if (source.readyState !== EventSource.CLOSED || document.getElementById('stopped')) return;
    var p = document.createElement('p');
    p.id = 'stopped';
    p.className = 'notice';
    p.textContent = 'Live updates stopped: the session ended (logged out, or past --session-ttl) or the console stopped. Reload the page to see where things stand.';
    document.querySelector('main').prepend(p);
  });
})();
