{
  "targets": [
    {
      "target_name": "podbox_native",
      "sources": ["native/addon.cc", "native/namespaces.c"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "cflags_cc": ["-Wall", "-O2", "-std=c++17"]
    },
    {
      "target_name": "ns-spawn",
      "type": "none",
      "actions": [
        {
          "action_name": "build_ns_spawn",
          "inputs": ["native/ns-spawn.c", "native/namespaces.c", "native/namespaces.h", "native/build-ns-spawn.sh"],
          "outputs": ["<(PRODUCT_DIR)/ns-spawn"],
          "action": ["sh", "native/build-ns-spawn.sh", "<(PRODUCT_DIR)/ns-spawn"]
        }
      ]
    },
    {
      "target_name": "pause",
      "type": "none",
      "actions": [
        {
          "action_name": "build_pause",
          "inputs": ["native/pause.c", "native/build-pause.sh"],
          "outputs": ["<(PRODUCT_DIR)/pause"],
          "action": ["sh", "native/build-pause.sh", "native/pause.c", "<(PRODUCT_DIR)/pause"]
        }
      ]
    }
  ]
}
