"""Running glance-api: connections and their limits, one serving process with its graceful
stop, and the pre-forking parent of several worker processes."""
