//! The Azure Functions custom-handler protocol and the Event Grid webhook.
