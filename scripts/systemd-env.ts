/**
 * The environment systemd would give tack, computed without systemd: `Environment=` lines of a
 * unit, then `EnvironmentFile=` parsed by systemd's own rules (which override them). The rules
 * differ from a shell's `. file` in the way that matters here: only a line *starting* with `#`
 * or `;` is a comment, and a `  # …` after a value is part of the value.
 *
 *   bun scripts/systemd-env.ts [--unit tack.service] [--env-file /etc/tack/env] [-- command …]
 *
 * Prints the resulting variables (as JSON), or runs the command with exactly them plus PATH.
 * scripts/deploy-check.ts uses it to start the binary the way the unit would.
 */

/** Parses an EnvironmentFile as systemd does (src/basic/env-file.c, parse_env_file). */
export function parseEnvironmentFile(text: string): Record<string, string> {
  const result: Record<string, string> = {};
  type State =
    | "preKey"
    | "key"
    | "preValue"
    | "value"
    | "valueEscape"
    | "single"
    | "double"
    | "doubleEscape"
    | "comment"
    | "commentEscape";
  let state: State = "preKey";
  let key = "";
  let value = "";
  let trailingSpace = 0;
  const emit = () => {
    const name = key.trim();
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) result[name] = value;
    key = "";
    value = "";
    trailingSpace = 0;
  };
  for (const c of `${text}\n`) {
    const newline = c === "\n" || c === "\r";
    const space = c === " " || c === "\t";
    switch (state) {
      case "preKey":
        if (c === "#" || c === ";") state = "comment";
        else if (!space && !newline) {
          state = "key";
          key = c;
        }
        break;
      case "key":
        if (newline) {
          // A line without "=" is ignored.
          state = "preKey";
          key = "";
        } else if (c === "=") state = "preValue";
        else key += c;
        break;
      case "preValue":
        if (newline) {
          emit();
          state = "preKey";
        } else if (c === "'") state = "single";
        else if (c === '"') state = "double";
        else if (c === "\\") state = "valueEscape";
        else if (!space) {
          state = "value";
          value += c;
        }
        break;
      case "value":
        if (newline) {
          value = value.slice(0, value.length - trailingSpace);
          emit();
          state = "preKey";
        } else if (c === "\\") {
          state = "valueEscape";
          trailingSpace = 0;
        } else {
          value += c;
          trailingSpace = space ? trailingSpace + 1 : 0;
        }
        break;
      case "valueEscape":
        state = "value";
        if (!newline) value += c; // a backslash-newline continues the value
        break;
      case "single":
        if (c === "'") state = "preValue";
        else value += c;
        break;
      case "double":
        if (c === '"') state = "preValue";
        else if (c === "\\") state = "doubleEscape";
        else value += c;
        break;
      case "doubleEscape":
        state = "double";
        if ('"\\`$'.includes(c)) value += c;
        else if (!newline) value += `\\${c}`;
        break;
      case "comment":
        if (c === "\\") state = "commentEscape";
        else if (newline) state = "preKey";
        break;
      case "commentEscape":
        state = "comment";
        break;
    }
  }
  return result;
}

/** `Environment=` assignments of a unit file's [Service] section, in order. */
export function unitEnvironment(unit: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const line of unit.split("\n")) {
    const match = /^Environment=(.*)$/.exec(line.trim());
    if (!match?.[1]) continue;
    for (const assignment of match[1].match(/"[^"]*"|\S+/g) ?? []) {
      const text = assignment.replace(/^"(.*)"$/, "$1");
      const eq = text.indexOf("=");
      if (eq > 0) result[text.slice(0, eq)] = text.slice(eq + 1);
    }
  }
  return result;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const split = args.indexOf("--");
  const options = split >= 0 ? args.slice(0, split) : args;
  const command = split >= 0 ? args.slice(split + 1) : [];
  const env: Record<string, string> = {};
  for (let i = 0; i < options.length; i += 2) {
    const path = options[i + 1];
    if (!path) throw new Error(`${options[i]} needs a file`);
    const text = await Bun.file(path).text();
    if (options[i] === "--unit") Object.assign(env, unitEnvironment(text));
    else if (options[i] === "--env-file") Object.assign(env, parseEnvironmentFile(text));
    else throw new Error(`unknown option ${options[i]}`);
  }
  if (command.length === 0) {
    console.log(JSON.stringify(env, null, 2));
  } else {
    const child = Bun.spawn(command, {
      env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", ...env },
      stdio: ["inherit", "inherit", "inherit"],
    });
    process.exit(await child.exited);
  }
}
