; Inno Setup script: wraps the PyInstaller folder dist\liangbing\ (build.spec) in one setup .exe.
; Run on Windows after `pyinstaller --noconfirm build.spec` (README "Windows 安装包"):
;   iscc /DAppVersion=0.1.0 packaging\installer.iss      ->  dist\liangbing-0.1.0-setup.exe
; Installs per machine under Program Files; the clinic's data stays in the user's data folder
; (%LOCALAPPDATA%\liangbing), so uninstalling or upgrading never touches records or backups.

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif

[Setup]
AppId={{6B1F3C2A-8E4D-4C1B-9A57-2D0E5F8B7C31}
AppName=两病门诊用药保障系统
AppVersion={#AppVersion}
AppPublisher=liangbing
DefaultDirName={autopf}\liangbing
DefaultGroupName=两病门诊用药保障系统
OutputDir=..\dist
OutputBaseFilename=liangbing-{#AppVersion}-setup
Compression=lzma2
SolidCompression=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
WizardStyle=modern
UninstallDisplayIcon={app}\liangbing.exe

[Languages]
; Inno Setup ships no Simplified Chinese messages: with ChineseSimplified.isl from
; https://jrsoftware.org/files/istrans/ copied into Inno Setup's Languages folder, use instead
;   Name: "chs"; MessagesFile: "compiler:Languages\ChineseSimplified.isl"
Name: "default"; MessagesFile: "compiler:Default.isl"

[Files]
Source: "..\dist\liangbing\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\两病门诊用药保障系统"; Filename: "{app}\liangbing.exe"
Name: "{group}\两病系统（命令行，技术支持用）"; Filename: "{cmd}"; Parameters: "/k ""{app}\liangbing-console.exe"" --help"
Name: "{autodesktop}\两病门诊用药保障系统"; Filename: "{app}\liangbing.exe"

[Run]
Filename: "{app}\liangbing.exe"; Description: "立即启动"; Flags: nowait postinstall skipifsilent
