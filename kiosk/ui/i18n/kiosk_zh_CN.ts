<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name>kiosk</name>
    <message>
        <source>Show your health code or swipe your ID card</source>
        <translation>请出示健康码或刷身份证</translation>
    </message>
    <message>
        <source>Accepted</source>
        <translation>可用</translation>
    </message>
    <message>
        <source>Phone code</source>
        <translation>手机健康码</translation>
    </message>
    <message>
        <source>Paper code</source>
        <translation>纸质码</translation>
    </message>
    <message>
        <source>ID card</source>
        <translation>身份证</translation>
    </message>
    <message>
        <source>Stand here for your temperature</source>
        <translation>请站在此处测体温</translation>
    </message>
    <message>
        <source>Hold the code in the frame</source>
        <translation>请将码对准框内</translation>
    </message>
    <message>
        <source>Checking…</source>
        <translation>正在核验…</translation>
    </message>
    <message>
        <source>Health code</source>
        <translation>健康码</translation>
    </message>
    <message>
        <source>Temperature</source>
        <translation>体温</translation>
    </message>
    <message>
        <source>Read</source>
        <translation>已读取</translation>
    </message>
    <message>
        <source>—</source>
        <translation>—</translation>
    </message>
    <message>
        <source>Measuring…</source>
        <translation>正在测量…</translation>
    </message>
    <message>
        <source>Measuring again</source>
        <translation>请再测一次体温</translation>
    </message>
    <message>
        <source>Please stay still in front of the thermometer</source>
        <translation>请在测温仪前保持不动</translation>
    </message>
    <message>
        <source>{t} °C</source>
        <translation>{t} °C</translation>
    </message>
    <message>
        <source>PASS</source>
        <translation>通行</translation>
    </message>
    <message>
        <source>STOP</source>
        <translation>禁止通行</translation>
    </message>
    <message>
        <source>PLEASE WAIT FOR STAFF</source>
        <translation>请等待工作人员</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>姓名</translation>
    </message>
    <message>
        <source>and {n} more</source>
        <translation>另有 {n} 项</translation>
    </message>
    <message>
        <source>Green code</source>
        <translation>绿码</translation>
    </message>
    <message>
        <source>Yellow code</source>
        <translation>黄码</translation>
    </message>
    <message>
        <source>Red code</source>
        <translation>红码</translation>
    </message>
    <message>
        <source>Valid health code</source>
        <translation>健康码有效</translation>
    </message>
    <message>
        <source>Code expired</source>
        <translation>码已过期</translation>
    </message>
    <message>
        <source>Code not valid yet</source>
        <translation>码尚未生效</translation>
    </message>
    <message>
        <source>Code withdrawn</source>
        <translation>码已作废</translation>
    </message>
    <message>
        <source>Code incomplete: show every part</source>
        <translation>码不完整，请出示全部</translation>
    </message>
    <message>
        <source>Code is not genuine</source>
        <translation>码不是真实签发的</translation>
    </message>
    <message>
        <source>Issuer not recognised</source>
        <translation>签发机构无法识别</translation>
    </message>
    <message>
        <source>Issuer not allowed to issue this code</source>
        <translation>签发机构无权签发此码</translation>
    </message>
    <message>
        <source>Issuer not allowed this kind of code</source>
        <translation>签发机构无权签发此类码</translation>
    </message>
    <message>
        <source>Not a health code</source>
        <translation>无法识别</translation>
    </message>
    <message>
        <source>Code damaged, cannot be read</source>
        <translation>码已损坏，无法读取</translation>
    </message>
    <message>
        <source>Code content is incomplete</source>
        <translation>码的内容不完整</translation>
    </message>
    <message>
        <source>This kind of code is not accepted here</source>
        <translation>本站不接受此类码</translation>
    </message>
    <message>
        <source>Codes from this region not accepted here</source>
        <translation>本站不接受该地区的码</translation>
    </message>
    <message>
        <source>Does not meet the entry rules</source>
        <translation>不符合入境规则</translation>
    </message>
    <message>
        <source>Kiosk data out of date</source>
        <translation>设备数据已过期</translation>
    </message>
    <message>
        <source>Kiosk clock not trusted</source>
        <translation>设备时间不可信</translation>
    </message>
    <message>
        <source>Temperature too high: {t} °C</source>
        <translation>体温 {t} °C 异常</translation>
    </message>
    <message>
        <source>Temperature too high</source>
        <translation>体温异常</translation>
    </message>
    <message>
        <source>Temperature could not be taken</source>
        <translation>未能测量体温</translation>
    </message>
    <message>
        <source>ID card checked: no abnormality</source>
        <translation>身份证核验无异常</translation>
    </message>
    <message>
        <source>ID card holder has yellow status</source>
        <translation>身份证持有人为黄码</translation>
    </message>
    <message>
        <source>ID card holder has red status</source>
        <translation>身份证持有人为红码</translation>
    </message>
    <message>
        <source>Card does not match the code</source>
        <translation>证件与健康码不符</translation>
    </message>
    <message>
        <source>Swipe the ID card that belongs to the code</source>
        <translation>请刷与健康码对应的身份证</translation>
    </message>
    <message>
        <source>ID card could not be read</source>
        <translation>身份证无法读取</translation>
    </message>
    <message>
        <source>ID card failed the check</source>
        <translation>身份证核验失败</translation>
    </message>
    <message>
        <source>Decided by staff</source>
        <translation>由工作人员处理</translation>
    </message>
    <message>
        <source>Other reason ({code})</source>
        <translation>其他原因（{code}）</translation>
    </message>
    <message>
        <source>Online</source>
        <translation>在线</translation>
    </message>
    <message>
        <source>Offline</source>
        <translation>离线</translation>
    </message>
    <message>
        <source>Sync {when}</source>
        <translation>同步 {when}</translation>
    </message>
    <message>
        <source>never</source>
        <translation>从未</translation>
    </message>
    <message>
        <source>Keys</source>
        <translation>密钥</translation>
    </message>
    <message>
        <source>List</source>
        <translation>名单</translation>
    </message>
    <message>
        <source>ok</source>
        <translation>正常</translation>
    </message>
    <message>
        <source>ageing</source>
        <translation>将过期</translation>
    </message>
    <message>
        <source>stale</source>
        <translation>已过期</translation>
    </message>
    <message>
        <source>none</source>
        <translation>无</translation>
    </message>
    <message>
        <source>Clock?</source>
        <translation>时间存疑</translation>
    </message>
    <message>
        <source>Fault: {devices}</source>
        <translation>故障：{devices}</translation>
    </message>
    <message>
        <source>camera</source>
        <translation>摄像头</translation>
    </message>
    <message>
        <source>scanner</source>
        <translation>扫码器</translation>
    </message>
    <message>
        <source>thermometer</source>
        <translation>测温仪</translation>
    </message>
    <message>
        <source>ID reader</source>
        <translation>身份证读卡器</translation>
    </message>
    <message>
        <source>card reader</source>
        <translation>读卡器</translation>
    </message>
    <message>
        <source>gate</source>
        <translation>闸机</translation>
    </message>
    <message>
        <source>Guard console</source>
        <translation>值守控制台</translation>
    </message>
    <message>
        <source>Enter the guard PIN</source>
        <translation>请输入值守密码</translation>
    </message>
    <message>
        <source>Wrong PIN: {n} tries left</source>
        <translation>密码错误：还可尝试 {n} 次</translation>
    </message>
    <message>
        <source>Too many wrong PINs: try again in {s} s</source>
        <translation>密码错误次数过多：请 {s} 秒后再试</translation>
    </message>
    <message>
        <source>No guard PIN is set on this kiosk</source>
        <translation>本机未设置值守密码</translation>
    </message>
    <message>
        <source>OK</source>
        <translation>确定</translation>
    </message>
    <message>
        <source>Clear</source>
        <translation>清除</translation>
    </message>
    <message>
        <source>Back</source>
        <translation>返回</translation>
    </message>
    <message>
        <source>Lock</source>
        <translation>锁定</translation>
    </message>
    <message>
        <source>Today {day}</source>
        <translation>今日 {day}</translation>
    </message>
    <message>
        <source>Total</source>
        <translation>合计</translation>
    </message>
    <message>
        <source>Passed</source>
        <translation>通过</translation>
    </message>
    <message>
        <source>Stopped</source>
        <translation>禁止</translation>
    </message>
    <message>
        <source>Referred</source>
        <translation>转人工</translation>
    </message>
    <message>
        <source>Fever</source>
        <translation>发热</translation>
    </message>
    <message>
        <source>Recent</source>
        <translation>最近记录</translation>
    </message>
    <message>
        <source>No registrations yet</source>
        <translation>暂无记录</translation>
    </message>
    <message>
        <source>Time</source>
        <translation>时间</translation>
    </message>
    <message>
        <source>Result</source>
        <translation>结果</translation>
    </message>
    <message>
        <source>Name / ID</source>
        <translation>姓名 / 证件号</translation>
    </message>
    <message>
        <source>Reasons</source>
        <translation>原因</translation>
    </message>
    <message>
        <source>Reason (required)</source>
        <translation>原因（必填）</translation>
    </message>
    <message>
        <source>Open gate</source>
        <translation>手动开闸</translation>
    </message>
    <message>
        <source>Silence alarm</source>
        <translation>消除警报</translation>
    </message>
    <message>
        <source>Enter a reason first</source>
        <translation>请先填写原因</translation>
    </message>
    <message>
        <source>Gate opened by hand</source>
        <translation>已手动开闸</translation>
    </message>
    <message>
        <source>The gate did not open: {why}</source>
        <translation>闸机未打开：{why}</translation>
    </message>
    <message>
        <source>Alarm silenced</source>
        <translation>警报已消除</translation>
    </message>
    <message>
        <source>Not done: {why}</source>
        <translation>未完成：{why}</translation>
    </message>
    <message>
        <source>Door held open</source>
        <translation>门长时间未关</translation>
    </message>
    <message>
        <source>Door forced open</source>
        <translation>门被强行打开</translation>
    </message>
    <message>
        <source>Device failed: {device}</source>
        <translation>设备故障：{device}</translation>
    </message>
    <message>
        <source>since {time}</source>
        <translation>自 {time} 起</translation>
    </message>
    <message>
        <source>silenced</source>
        <translation>已消音</translation>
    </message>
    <message>
        <source>ended: silence to clear</source>
        <translation>已结束：消除警报后清除</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Let pass</source>
        <translation>放行</translation>
    </message>
    <message>
        <source>Refuse</source>
        <translation>拒绝</translation>
    </message>
    <message>
        <source>Export today</source>
        <translation>导出今日</translation>
    </message>
    <message>
        <source>Export {day} to a USB stick (CSV)</source>
        <translation>将 {day} 的记录导出到U盘（CSV）</translation>
    </message>
    <message>
        <source>Choose the USB stick, or type a folder:</source>
        <translation>请选择U盘，或输入文件夹路径：</translation>
    </message>
    <message>
        <source>Daily export to USB</source>
        <translation>每日导出到U盘</translation>
    </message>
    <message>
        <source>Export</source>
        <translation>导出</translation>
    </message>
    <message>
        <source>Exporting to {path}…</source>
        <translation>正在导出到 {path}…</translation>
    </message>
    <message>
        <source>Exported {n} registrations to {path}: {passed} passed, {denied} stopped, {referred} referred, {fever} fever</source>
        <translation>已导出 {n} 条记录到 {path}：通过 {passed}，禁止 {denied}，转人工 {referred}，发热 {fever}</translation>
    </message>
    <message>
        <source>Not exported: {why}</source>
        <translation>未能导出：{why}</translation>
    </message>
    <message>
        <source>Tap a referred (amber) visit to let it pass or refuse it</source>
        <translation>点选一条转人工（黄色）记录，可放行或拒绝</translation>
    </message>
    <message>
        <source>Choose a referred (amber) visit first</source>
        <translation>请先选择一条转人工（黄色）记录</translation>
    </message>
    <message>
        <source>Selected: {time} {who} — {decision}</source>
        <translation>已选：{time} {who} — {decision}</translation>
    </message>
    <message>
        <source>{decision} (staff)</source>
        <translation>{decision}（人工）</translation>
    </message>
    <message>
        <source>Let pass by staff: recorded</source>
        <translation>已人工放行并记录</translation>
    </message>
    <message>
        <source>Refused by staff: recorded</source>
        <translation>已人工拒绝并记录</translation>
    </message>
    <message>
        <source>No USB stick found under /media, /run/media or /mnt: plug one in, or type a folder</source>
        <translation>在 /media、/run/media、/mnt 下未找到U盘：请插入U盘，或输入文件夹</translation>
    </message>
    <message>
        <source>Refresh</source>
        <translation>刷新</translation>
    </message>
    <message>
        <source>Folder, e.g. /media/usb</source>
        <translation>文件夹，例如 /media/usb</translation>
    </message>
    <message>
        <source>Choose a folder first</source>
        <translation>请先选择文件夹</translation>
    </message>
    <message>
        <source>Technician</source>
        <translation>技术人员</translation>
    </message>
    <message>
        <source>Technician tools</source>
        <translation>技术维护</translation>
    </message>
    <message>
        <source>Enter the technician PIN</source>
        <translation>请输入技术人员密码</translation>
    </message>
    <message>
        <source>No technician PIN is set on this kiosk</source>
        <translation>本机未设置技术人员密码</translation>
    </message>
    <message>
        <source>Menu</source>
        <translation>菜单</translation>
    </message>
    <message>
        <source>Device self-test</source>
        <translation>设备自检</translation>
    </message>
    <message>
        <source>Device and site</source>
        <translation>设备与站点</translation>
    </message>
    <message>
        <source>Trust lists</source>
        <translation>信任列表</translation>
    </message>
    <message>
        <source>Network and sync</source>
        <translation>网络与同步</translation>
    </message>
    <message>
        <source>Logs (last hour)</source>
        <translation>日志（最近一小时）</translation>
    </message>
    <message>
        <source>Thermometer calibration</source>
        <translation>测温校准</translation>
    </message>
    <message>
        <source>Run self-test</source>
        <translation>开始自检</translation>
    </message>
    <message>
        <source>{done} / {total}</source>
        <translation>{done} / {total}</translation>
    </message>
    <message>
        <source>Testing…</source>
        <translation>检测中…</translation>
    </message>
    <message>
        <source>Testing the {device}…</source>
        <translation>正在检测{device}…</translation>
    </message>
    <message>
        <source>Waiting</source>
        <translation>等待中</translation>
    </message>
    <message>
        <source>Not tested</source>
        <translation>未检测</translation>
    </message>
    <message>
        <source>Now: {state}</source>
        <translation>当前：{state}</translation>
    </message>
    <message>
        <source>Working</source>
        <translation>正常</translation>
    </message>
    <message>
        <source>Degraded</source>
        <translation>部分异常</translation>
    </message>
    <message>
        <source>Failed</source>
        <translation>故障</translation>
    </message>
    <message>
        <source>All {n} devices OK</source>
        <translation>全部 {n} 台设备正常</translation>
    </message>
    <message>
        <source>Not OK: {devices}</source>
        <translation>异常设备：{devices}</translation>
    </message>
    <message>
        <source>Tests each fitted device in turn (up to 20 s each). While the kiosk runs, a device it holds may report busy.</source>
        <translation>逐台检测已安装的设备（每台最长 20 秒）。终端运行时，正在使用的设备可能显示为忙。</translation>
    </message>
    <message>
        <source>No devices configured</source>
        <translation>未配置设备</translation>
    </message>
    <message>
        <source>Failed: {why}</source>
        <translation>失败：{why}</translation>
    </message>
    <message>
        <source>Please wait…</source>
        <translation>请稍候…</translation>
    </message>
    <message>
        <source>Done</source>
        <translation>完成</translation>
    </message>
    <message>
        <source>Loading…</source>
        <translation>读取中…</translation>
    </message>
    <message>
        <source>Device ID</source>
        <translation>设备编号</translation>
    </message>
    <message>
        <source>Site name (provisioned)</source>
        <translation>站点名称（部署时设置）</translation>
    </message>
    <message>
        <source>Site in the policy</source>
        <translation>策略中的站点</translation>
    </message>
    <message>
        <source>Software version</source>
        <translation>软件版本</translation>
    </message>
    <message>
        <source>Host name</source>
        <translation>主机名</translation>
    </message>
    <message>
        <source>Hub</source>
        <translation>管理平台</translation>
    </message>
    <message>
        <source>Data directory</source>
        <translation>数据目录</translation>
    </message>
    <message>
        <source>not provisioned</source>
        <translation>未部署</translation>
    </message>
    <message>
        <source>not set</source>
        <translation>未设置</translation>
    </message>
    <message>
        <source>not enrolled</source>
        <translation>未注册</translation>
    </message>
    <message>
        <source>Fresh</source>
        <translation>最新</translation>
    </message>
    <message>
        <source>Ageing</source>
        <translation>将过期</translation>
    </message>
    <message>
        <source>Stale</source>
        <translation>已过期</translation>
    </message>
    <message>
        <source>{entries} entries · seq {seq} · signed {signed} ({age} h ago) · valid until {until}</source>
        <translation>{entries} 条 · 序号 {seq} · 签发于 {signed}（{age} 小时前）· 有效期至 {until}</translation>
    </message>
    <message>
        <source>Expired: import a new list</source>
        <translation>已失效：请导入新列表</translation>
    </message>
    <message>
        <source>No trust lists: every code is refused. Import a bundle from USB.</source>
        <translation>没有信任列表：所有健康码都会被拒绝。请从U盘导入。</translation>
    </message>
    <message>
        <source>Import from USB</source>
        <translation>从U盘导入</translation>
    </message>
    <message>
        <source>Import trust lists from USB</source>
        <translation>从U盘导入信任列表</translation>
    </message>
    <message>
        <source>The folder holds root.pem and bundle.jws, and may hold status-list.ksl and list-key (as for kiosk provision --bundle).</source>
        <translation>文件夹中应有 root.pem 和 bundle.jws，可含 status-list.ksl 与 list-key（与 kiosk provision --bundle 相同）。</translation>
    </message>
    <message>
        <source>Import</source>
        <translation>导入</translation>
    </message>
    <message>
        <source>Importing from {path}…</source>
        <translation>正在从 {path} 导入…</translation>
    </message>
    <message>
        <source>Imported: loading into the running kiosk…</source>
        <translation>已导入：正在载入运行中的终端…</translation>
    </message>
    <message>
        <source>Imported and in use now</source>
        <translation>已导入并立即生效</translation>
    </message>
    <message>
        <source>Imported: in use after the kiosk restarts</source>
        <translation>已导入：终端重启后生效</translation>
    </message>
    <message>
        <source>Not imported: {why}</source>
        <translation>未导入：{why}</translation>
    </message>
    <message>
        <source>Hub connection</source>
        <translation>平台连接</translation>
    </message>
    <message>
        <source>No sync has run yet (no sync-state.json)</source>
        <translation>尚未同步（没有 sync-state.json）</translation>
    </message>
    <message>
        <source>Last successful sync</source>
        <translation>最近一次成功同步</translation>
    </message>
    <message>
        <source>Last attempt</source>
        <translation>最近一次尝试</translation>
    </message>
    <message>
        <source>Last error</source>
        <translation>最近错误</translation>
    </message>
    <message>
        <source>Registrations waiting for the hub</source>
        <translation>待上传记录</translation>
    </message>
    <message>
        <source>Clock against the hub</source>
        <translation>与平台的时钟偏差</translation>
    </message>
    <message>
        <source>Hub address</source>
        <translation>平台地址</translation>
    </message>
    <message>
        <source>Versions pulled from the hub</source>
        <translation>已从平台获取的版本</translation>
    </message>
    <message>
        <source>in step ({s} s)</source>
        <translation>一致（{s} 秒）</translation>
    </message>
    <message>
        <source>kiosk {s} s behind the hub</source>
        <translation>终端比平台慢 {s} 秒</translation>
    </message>
    <message>
        <source>kiosk {s} s ahead of the hub</source>
        <translation>终端比平台快 {s} 秒</translation>
    </message>
    <message>
        <source>System journal (healthcode-kiosk), last hour: {n} lines</source>
        <translation>系统日志（healthcode-kiosk），最近一小时：{n} 行</translation>
    </message>
    <message>
        <source>Kiosk event log (no system journal here), last hour: {n} lines</source>
        <translation>终端事件日志（本机无系统日志），最近一小时：{n} 行</translation>
    </message>
    <message>
        <source>Nothing logged in the last hour</source>
        <translation>最近一小时没有日志</translation>
    </message>
    <message>
        <source>Offset now {offset} °C (body = skin + offset) · {path}</source>
        <translation>当前补偿 {offset} °C（体温 = 皮肤温度 + 补偿）· {path}</translation>
    </message>
    <message>
        <source>built-in defaults, no file</source>
        <translation>内置默认值，无配置文件</translation>
    </message>
    <message>
        <source>No thermometer fitted</source>
        <translation>未安装测温仪</translation>
    </message>
    <message>
        <source>The thermometer uses the {model} model: calibrate it in devices.toml</source>
        <translation>测温仪使用 {model} 模型：请在 devices.toml 中校准</translation>
    </message>
    <message>
        <source>Reference thermometer reading (°C)</source>
        <translation>参考体温计读数（°C）</translation>
    </message>
    <message>
        <source>Take {n} readings</source>
        <translation>测量 {n} 次</translation>
    </message>
    <message>
        <source>Measuring: keep the person in front of the sensor</source>
        <translation>测量中：请被测者保持在测温仪前</translation>
    </message>
    <message>
        <source>Enter the reference reading, {lo}–{hi} °C</source>
        <translation>请输入参考读数（{lo}–{hi} °C）</translation>
    </message>
    <message>
        <source>New offset {new} °C (was {old} °C)</source>
        <translation>新补偿 {new} °C（原为 {old} °C）</translation>
    </message>
    <message>
        <source>Reference {ref} °C, median skin {skin} °C over {n} readings, spread {spread} °C</source>
        <translation>参考 {ref} °C，{n} 次皮肤温度中位数 {skin} °C，波动 {spread} °C</translation>
    </message>
    <message>
        <source>Steady</source>
        <translation>稳定</translation>
    </message>
    <message>
        <source>Unsteady</source>
        <translation>不稳定</translation>
    </message>
    <message>
        <source>Check the new offset, then save it</source>
        <translation>请核对新补偿值，然后保存</translation>
    </message>
    <message>
        <source>The readings vary: measure again before saving</source>
        <translation>读数波动较大：建议重新测量后再保存</translation>
    </message>
    <message>
        <source>Measurement failed: {why}</source>
        <translation>测量失败：{why}</translation>
    </message>
    <message>
        <source>Save offset</source>
        <translation>保存补偿</translation>
    </message>
    <message>
        <source>Save offset {offset} °C to {path}?</source>
        <translation>将补偿 {offset} °C 保存到 {path}？</translation>
    </message>
    <message>
        <source>Yes, save</source>
        <translation>确认保存</translation>
    </message>
    <message>
        <source>Not saved</source>
        <translation>未保存</translation>
    </message>
    <message>
        <source>Saving…</source>
        <translation>保存中…</translation>
    </message>
    <message>
        <source>Saved to {path} and in use now</source>
        <translation>已保存到 {path} 并立即生效</translation>
    </message>
    <message>
        <source>Saved to {path}: in use after the kiosk restarts</source>
        <translation>已保存到 {path}：终端重启后生效</translation>
    </message>
    <message>
        <source>Cannot write {path} (read-only or no permission). Put this line under [thermometer] by hand: {line}</source>
        <translation>无法写入 {path}（只读或无权限）。请手动在 [thermometer] 下写入：{line}</translation>
    </message>
    <message>
        <source>Not saved: {why}. The line for [thermometer]: {line}</source>
        <translation>未保存：{why}。[thermometer] 下应写入：{line}</translation>
    </message>
    <message>
        <source>No device configuration file in use (built-in defaults). Put this line under [thermometer] in devices.toml: {line}</source>
        <translation>未使用设备配置文件（内置默认值）。请在 devices.toml 的 [thermometer] 下写入：{line}</translation>
    </message>
    <message>
        <source>Sync blocked</source>
        <translation>同步受阻</translation>
    </message>
</context>
</TS>
