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
</context>
</TS>
