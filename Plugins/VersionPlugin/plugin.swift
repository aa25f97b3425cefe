import Foundation
import PackagePlugin

/// Generates `BorgPullVersion.current` from debian/changelog (scripts/version-swift.sh), so
/// `--version` of every binary and the Debian packages' version have one source.
@main
struct VersionPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let root = context.package.directoryURL
        let changelog = root.appending(path: "debian/changelog")
        let script = root.appending(path: "scripts/version-swift.sh")
        let output = context.pluginWorkDirectoryURL.appending(path: "BorgPullVersion.swift")
        return [
            .buildCommand(
                displayName: "Generating BorgPullVersion.swift from debian/changelog",
                executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: [script.path, changelog.path, output.path],
                inputFiles: [changelog, script], outputFiles: [output])
        ]
    }
}
