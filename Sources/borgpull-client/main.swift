// Internal sandbox-exec is dispatched before anything else (no logging, no threads).
// (Merge note for the lead: keep this dispatch at the top of the client's main.)
let clientArguments = Array(CommandLine.arguments.dropFirst())
if clientArguments.first == "sandbox-exec" {
    SandboxExec.main(internal: Array(clientArguments.dropFirst()))
}
print("not yet")
