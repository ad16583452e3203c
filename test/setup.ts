// Preloaded by bunfig.toml for every test file.
process.env.TZ = "UTC";
