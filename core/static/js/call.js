/* The registry of call providers' browser adapters. A provider's script calls
   OssCall.register(name, factory); the room page (room.js) creates the adapter with
   OssCall.create(name, payload, context). The contract is in docs/call-providers.md. */
(function () {
  "use strict";
  var factories = {};
  window.OssCall = {
    register: function (name, factory) {
      if (typeof name !== "string" || typeof factory !== "function") {
        throw new TypeError("OssCall.register(name, factory): name is a string, factory a function");
      }
      factories[name] = factory;
    },
    has: function (name) { return Object.prototype.hasOwnProperty.call(factories, name); },
    create: function (name, payload, context) {
      if (!this.has(name)) { throw new Error("No browser adapter registered for the call provider '" + name + "'"); }
      return factories[name](payload, context);
    }
  };
}());
