/* ClickLedger pixel tag (fallback for operators that cannot send server-to-server postbacks).
 *
 * Landing page: <script async src="https://TRACKER/p.js"></script>
 *   remembers the click id from the landing URL (?click_id=… or ?clid=…) in localStorage.
 * Thank-you page:
 *   <script async src="https://TRACKER/p.js" data-key="PIXEL_KEY" data-event="registration"
 *           data-user-id="PLAYER_ID"></script>
 *   data-event: registration | ftd | deposit; optional data-click-id, data-txn-id,
 *   data-amount, data-currency. Reports one hit to /p.gif.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) { return; }
  var data = script.dataset || {};
  var store = "cl_click_id";
  var fromUrl = null;
  try {
    var search = new URLSearchParams(window.location.search);
    fromUrl = search.get("click_id") || search.get("clid");
    if (fromUrl) { window.localStorage.setItem(store, fromUrl); }
  } catch (e) { /* storage may be blocked */ }
  if (!data.event || !data.key) { return; }
  var clickId = data.clickId || fromUrl;
  try { clickId = clickId || window.localStorage.getItem(store); } catch (e) { /* blocked */ }
  if (!clickId) { return; }
  var query = new URLSearchParams();
  query.set("k", data.key);
  query.set("event", data.event);
  query.set("click_id", clickId);
  var optional = { userId: "user_id", txnId: "txn_id", amount: "amount", currency: "currency" };
  Object.keys(optional).forEach(function (name) {
    if (data[name]) { query.set(optional[name], data[name]); }
  });
  var origin = new URL(script.src, window.location.href).origin;
  var image = new Image(1, 1);
  image.referrerPolicy = "no-referrer-when-downgrade";
  image.src = origin + "/p.gif?" + query.toString();
})();
